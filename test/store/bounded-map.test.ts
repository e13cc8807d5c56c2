// setBounded, the eviction rule of the in-memory caches (listing snapshots, the local cluster
// directory's parsed files): never more than the limit, the newest entry always kept, the oldest out first.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { setBounded } from '../../shared/bounded-map.js';

describe('setBounded', () => {
  it('keeps at most `limit` entries, the one just set among them, and drops the oldest first', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 60 }), (limit, keys) => {
        const map = new Map<number, number>();
        for (const [i, key] of keys.entries()) {
          const before = [...map.keys()];
          expect(setBounded(map, limit, key, i)).toBe(i);
          expect(map.size).toBeLessThanOrEqual(limit);
          expect(map.get(key)).toBe(i);
          // What went is a prefix of the insertion order: the oldest entries.
          const gone = before.filter((k) => !map.has(k));
          expect(before.slice(0, gone.length)).toEqual(gone);
        }
      }),
    );
  });
});
