// The backoff itself: full jitter under an exponential cap, a bounded total wait, and which
// errors end the retries. Time is simulated: nothing waits.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffCap, backoffDelay, withRetry, type RetryPolicy } from '../../shared/store/retry.js';
import { simulatedTiming } from '../support/simulated-timing.js';

const policy: RetryPolicy = { totalMs: 30_000, initialDelayMs: 250, maxDelayMs: 8_000, maxRetries: 10 };

class Transient extends Error {}

describe('backoff', () => {
  it('caps double from the initial delay up to the maximum', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 40].map((n) => backoffCap(policy, n))).toEqual([250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('draws every delay uniformly below its cap (full jitter)', () => {
    fc.assert(
      fc.property(fc.nat(60), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const d = backoffDelay(policy, attempt, r);
        return d >= 0 && d < backoffCap(policy, attempt) && Number.isInteger(d);
      }),
    );
  });
});

describe('withRetry', () => {
  const giveUp = (err: unknown, outcome: { retries: number; retryAfterMs: number }) => Object.assign(new Error('gave up'), { cause: err, outcome });

  it('retries a transient failure until it succeeds', async () => {
    const timing = simulatedTiming();
    let calls = 0;
    const result = await withRetry(policy, timing, async () => (++calls < 4 ? Promise.reject(new Transient()) : 'done'), (e) => e instanceof Transient, giveUp);
    expect(result).toBe('done');
    expect(calls).toBe(4);
    expect(timing.sleeps).toEqual([125, 250, 500]);
  });

  it('stops at once on a failure it must not retry', async () => {
    const timing = simulatedTiming();
    const err = await withRetry(policy, timing, async () => Promise.reject(new Error('permanent')), (e) => e instanceof Transient, giveUp).catch((e: unknown) => e);
    expect(err).toMatchObject({ message: 'gave up', outcome: { retries: 0, retryAfterMs: 0 } });
    expect(timing.sleeps).toEqual([]);
  });

  it('never waits longer in total, nor retries more often, than the policy allows, and hints when to come back', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 120_000 }), fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1 }), async (totalMs, draws) => {
        let i = 0;
        const timing = simulatedTiming(() => draws[i++ % draws.length]!);
        const err = (await withRetry({ ...policy, totalMs }, timing, async () => Promise.reject(new Transient()), () => true, giveUp).catch((e: unknown) => e)) as { outcome: { retries: number; retryAfterMs: number } };
        const waited = timing.sleeps.reduce((a, b) => a + b, 0);
        expect(waited).toBeLessThanOrEqual(totalMs);
        expect(timing.sleeps.length).toBeLessThanOrEqual(policy.maxRetries);
        expect(err.outcome.retries).toBe(timing.sleeps.length);
        expect(err.outcome.retryAfterMs).toBeGreaterThanOrEqual(1000);
      }),
      { numRuns: 200 },
    );
  });

  it('tells each attempt what failed before it', async () => {
    const seen: number[] = [];
    let calls = 0;
    await withRetry(policy, simulatedTiming(), async (failures) => {
      seen.push(failures.length);
      if (++calls < 3) throw new Transient();
    }, () => true, giveUp);
    expect(seen).toEqual([0, 1, 2]);
  });
});
