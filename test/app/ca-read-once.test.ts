// A request reads and parses a link's CA once: a create's CA, just minted, signs both leaves and
// fills both sides' trust without being read back from the store or its key decoded again.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { applyLink } from '../../shared/app/provision.js';
import { specInput } from '../support/builders.js';
import { testApp } from '../support/app.js';

/** Calls of readPrivateKey (the CA key's PEM decoding, the costly part of reading a CA). */
const keyReads = vi.hoisted(() => ({ count: 0 }));

vi.mock('../../shared/pki/keys.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../shared/pki/keys.js')>();
  return {
    ...original,
    readPrivateKey: (...args: Parameters<typeof original.readPrivateKey>) => {
      keyReads.count++;
      return original.readPrivateKey(...args);
    },
  };
});

afterEach(() => {
  keyReads.count = 0;
});

describe('creating a link', () => {
  it('reads no CA payload from the store and decodes no CA key: the CA it minted serves both leaves and both trust bundles', async () => {
    const app = testApp();
    const caId = `${app.deps.settings.secretPrefix}-mysql-ca`;
    const access = vi.spyOn(app.memory, 'accessVersion');

    expect((await applyLink(app.deps, specInput())).created).toBe(true);

    expect(access.mock.calls.filter(([id]) => id === caId)).toEqual([]);
    expect(keyReads.count).toBe(0);
  });
});
