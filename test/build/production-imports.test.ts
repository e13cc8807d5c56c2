// What ships is what runs: every shared/ module is reached from an entry point (functions/, the
// CLI). A module only tests import (a memory store, a counting store, a barrel) belongs in test/.
import { describe, expect, it } from 'vitest';
import { productionModules, unshippedSharedModules } from '../support/production-imports.js';

describe('shared/ holds production code only', () => {
  it('every shared/ module is imported by a production path', () => {
    expect(unshippedSharedModules()).toEqual([]);
  });

  it('no production module imports from test/', () => {
    expect([...productionModules()].filter((f) => f.includes('/test/'))).toEqual([]);
  });
});
