// Retrying transient store failures: exponential backoff with full jitter inside a bounded total
// time, so a burst that meets Secret Manager's per-minute quota spreads out instead of failing,
// and a call never waits longer than the caller's own deadline allows. Sleep, clock and random
// source are parameters: tests retry without waiting.

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
  for (;;) {
    try {
      return await attempt(failures);
    } catch (err) {
      const retries = failures.length;
      if (!shouldRetry(err)) throw giveUp(err, { retries, retryAfterMs: 0 });
      const delay = backoffDelay(policy, retries, timing.random());
      if (retries >= policy.maxRetries || timing.now() - start + delay > policy.totalMs) throw giveUp(err, { retries, retryAfterMs: Math.max(1000, backoffCap(policy, retries)) });
      failures.push(err);
      await timing.sleep(delay);
    }
  }
}
