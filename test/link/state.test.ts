// Small derivations of the link state: whether a worker holds the link's lease.
import { describe, expect, it } from 'vitest';
import { leaseHeld, type LinkState } from '../../shared/link/state.js';

const NOW = new Date('2026-03-01T00:00:00Z');
const state = (lease?: LinkState['lease']) => ({ ...(lease ? { lease } : {}) }) as LinkState;

describe('leaseHeld', () => {
  it.each<[string, LinkState['lease'], boolean]>([
    ['no lease', undefined, false],
    ['a lease running past now', { holder: 'w', until: new Date(NOW.getTime() + 1).toISOString() }, true],
    ['a lease ending exactly now (expired)', { holder: 'w', until: NOW.toISOString() }, false],
    ['a lease that ended before now', { holder: 'w', until: new Date(NOW.getTime() - 60_000).toISOString() }, false],
  ])('%s', (_name, lease, held) => {
    expect(leaseHeld(state(lease), NOW)).toBe(held);
  });
});
