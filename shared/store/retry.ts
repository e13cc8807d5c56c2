// Retrying transient store failures: exponential backoff with full jitter inside a bounded total
// time, so a burst that meets Secret Manager's per-minute quota spreads out instead of failing,
// and a call never waits longer than the caller's own deadline allows. p-retry runs the attempts;
// the waits are ours (p-retry's jitter is a factor in [1, 2), not full jitter, and its timer and
// clock cannot be injected): sleep, clock and random source are parameters, so tests retry
// without waiting.
import pRetry from 'p-retry';

export interface RetryPolicy {
  /** Total time a call may spend waiting between attempts; 0 = one attempt only. */
  totalMs: number;
  /** Cap of the first wait; each next cap doubles, up to `maxDelayMs`. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** A jitter near zero waits almost nothing: the count bounds the calls (and quota) spent too. */
  maxRetries: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { totalMs: 30_000, initialDelayMs: 250, maxDelayMs: 8_000, maxRetries: 10 };

export interface RetryTiming {
  sleep(ms: number): Promise<void>;
  /** Milliseconds, monotonic enough to measure the time spent. */
  now(): number;
  /** Uniform in [0, 1). */
  random(): number;
}

export const realTiming: RetryTiming = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => performance.now(),
  random: Math.random,
};

/** The largest wait before retry number `attempt` (0-based): the exponential part of the backoff. */
export function backoffCap(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt, 30));
}

/** Full jitter: uniform in [0, cap), so many clients that failed together do not retry together. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: number): number {
  return Math.floor(random * backoffCap(policy, attempt));
}

export interface RetryOutcome {
  /** Retries made (attempts - 1). */
  retries: number;
  /** When to try again, for the caller's caller (HTTP Retry-After): the next cap. */
  retryAfterMs: number;
}

/**
 * Runs `attempt` until it succeeds, `shouldRetry` refuses its error, or the next wait would pass
 * the total time; then rethrows the last error through `giveUp` (which may translate it).
 * `attempt` is told how many tries came before it.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  timing: RetryTiming,
  attempt: (previousFailures: unknown[]) => Promise<T>,
  shouldRetry: (err: unknown) => boolean,
  giveUp: (err: unknown, outcome: RetryOutcome) => Error,
): Promise<T> {
  const start = timing.now();
  const failures: unknown[] = [];
  // p-retry only sees errors: anything else thrown is carried in one and unwrapped at the end.
  const carried = new WeakMap<Error, unknown>();
  try {
    return await pRetry(
      async () => {
        try {
          return await attempt(failures);
        } catch (err) {
          if (err instanceof Error) throw err;
          const wrapper = new Error('non-error thrown');
          carried.set(wrapper, err);
          throw wrapper;
        }
      },
      {
        retries: policy.maxRetries,
        minTimeout: 0, // p-retry's own wait: none, the wait is slept below
        shouldRetry: async ({ error, retriesConsumed }) => {
          const err = carried.has(error) ? carried.get(error) : error;
          if (!shouldRetry(err)) return false;
          const delay = backoffDelay(policy, retriesConsumed, timing.random());
          if (timing.now() - start + delay > policy.totalMs) return false;
          failures.push(err);
          await timing.sleep(delay);
          return true;
        },
      },
    );
  } catch (error) {
    const err = error instanceof Error && carried.has(error) ? carried.get(error) : error;
    const retries = failures.length;
    // A transient error that is no longer retried (count or time spent): when to try again.
    throw giveUp(err, { retries, retryAfterMs: shouldRetry(err) ? Math.max(1000, backoffCap(policy, retries)) : 0 });
  }
}
