// KeyedLock: work under one key never overlaps, whatever the interleaving; other keys do not wait.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyedLock } from '../../shared/keyed-lock.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('KeyedLock', () => {
  it('never runs two tasks of one key at once, and runs every task once, failures included', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.nat(3), fc.nat(2), fc.boolean()), { minLength: 1, maxLength: 30 }), async (tasks) => {
        const lock = new KeyedLock();
        const holding = new Map<string, number>();
        const order: Record<string, number[]> = {};
        const runs = tasks.map(async ([key, work, delay, fails], i) => {
          for (let n = 0; n < delay; n++) await tick(); // arrivals spread over time
          return lock
            .run(key, async () => {
              holding.set(key, (holding.get(key) ?? 0) + 1);
              expect(holding.get(key)).toBe(1);
              (order[key] ??= []).push(i);
              for (let n = 0; n < work; n++) await tick();
              holding.set(key, holding.get(key)! - 1);
              if (fails) throw new Error('boom');
              return i;
            })
            .catch(() => i);
        });
        expect(await Promise.all(runs)).toEqual(tasks.map((_, i) => i));
        expect(Object.values(order).flat().sort((x, y) => x - y)).toEqual(tasks.map((_, i) => i));
      }),
      { numRuns: 200 },
    );
  });

  it('lets another key run while one is held', async () => {
    const lock = new KeyedLock();
    let release!: () => void;
    const held = lock.run('a', () => new Promise<void>((resolve) => (release = resolve)));
    expect(await lock.run('b', async () => 'b ran')).toBe('b ran');
    release();
    await held;
  });
});
