// Retry with exponential backoff for calls to one remote endpoint (bounded by p-limit in the target).
import pRetry from 'p-retry';
import { isMeshlinkError, type MeshlinkError } from '../errors.js';

export interface RetryPolicy {
  /** Total attempts, first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  sleep: (ms: number) => Promise<void>;
  /** In [0, 1); jitter source. */
  random: () => number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 10_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

/** Longest server-requested wait we honour; beyond it the caller is better off failing. */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * Delay before attempt `attempt + 1`: exponential with equal jitter (half fixed, half random),
 * but never shorter than what the server asked for with Retry-After.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = exp / 2 + (exp / 2) * policy.random();
  return retryAfterMs === undefined ? jittered : Math.max(jittered, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
}

/** Parses a Retry-After header (seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Runs `attempt` until it succeeds, fails with a non-retryable error, or runs out of attempts.
 * `translate` turns a raw failure into a MeshlinkError (`unavailable` = retry) and the
 * server's Retry-After, if it gave one. p-retry counts the attempts; the wait is ours
 * (`policy.sleep`, so tests do not wait, and at least the server's Retry-After).
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  attempt: () => Promise<T>,
  translate: (err: unknown) => { error: MeshlinkError; retryAfterMs?: number },
): Promise<T> {
  const retryAfter = new WeakMap<MeshlinkError, number | undefined>();
  return pRetry(
    async () => {
      try {
        return await attempt();
      } catch (err) {
        if (isMeshlinkError(err)) throw err;
        const { error, retryAfterMs } = translate(err);
        retryAfter.set(error, retryAfterMs);
        throw error;
      }
    },
    {
      retries: Math.max(0, policy.maxAttempts - 1),
      minTimeout: 0, // p-retry's own wait: none, the wait is slept below
      shouldRetry: async ({ error, attemptNumber }) => {
        if (!isMeshlinkError(error) || !error.retryable) return false;
        await policy.sleep(backoffDelay(policy, attemptNumber, retryAfter.get(error)));
        return true;
      },
    },
  );
}
