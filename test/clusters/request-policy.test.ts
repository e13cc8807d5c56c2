// Backoff and retry: deterministic (injected sleep and jitter). The per-cluster bound on requests
// in flight (p-limit) is tested through the target: kubernetes-target.test.ts.
import { describe, expect, it } from 'vitest';
import { backoffDelay, defaultRetryPolicy, parseRetryAfter, withRetry, type RetryPolicy } from '../../shared/clusters/request-policy.js';
import { MeshlinkError } from '../../shared/errors.js';

describe('backoffDelay', () => {
  const policy: RetryPolicy = { ...defaultRetryPolicy, baseDelayMs: 100, maxDelayMs: 1000 };

  it.each([
    { case: 'first retry, no jitter drawn', attempt: 1, random: 0, retryAfter: undefined, want: 50 },
    { case: 'first retry, full jitter', attempt: 1, random: 0.999999, retryAfter: undefined, want: 99.99995 },
    { case: 'third retry doubles twice', attempt: 3, random: 0, retryAfter: undefined, want: 200 },
    { case: 'capped at maxDelayMs', attempt: 10, random: 0, retryAfter: undefined, want: 500 },
    { case: 'Retry-After longer than backoff wins', attempt: 1, random: 0, retryAfter: 3000, want: 3000 },
    { case: 'Retry-After shorter than backoff is not obeyed early', attempt: 3, random: 0, retryAfter: 10, want: 200 },
    { case: 'absurd Retry-After capped at a minute', attempt: 1, random: 0, retryAfter: 3_600_000, want: 60_000 },
  ])('$case', ({ attempt, random, retryAfter, want }) => {
    expect(backoffDelay({ ...policy, random: () => random }, attempt, retryAfter)).toBeCloseTo(want, 3);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it.each([
    { value: '5', want: 5000 },
    { value: ' 0 ', want: 0 },
    { value: 'Thu, 01 Jan 2026 00:00:07 GMT', want: 7000 },
    { value: 'Wed, 31 Dec 2025 23:59:00 GMT', want: 0 },
    { value: 'soon', want: undefined },
    { value: undefined, want: undefined },
  ])('reads $value as $want ms', ({ value, want }) => {
    expect(parseRetryAfter(value, now)).toBe(want);
  });
});

describe('withRetry', () => {
  it.each([
    { case: 'retries unavailable until it succeeds', failures: ['unavailable', 'unavailable'], attempts: 3, result: 'ok' },
    { case: 'does not retry permission-denied', failures: ['permission-denied'], attempts: 1, result: 'permission-denied' },
    { case: 'stops after maxAttempts', failures: ['unavailable', 'unavailable', 'unavailable', 'unavailable'], attempts: 3, result: 'unavailable' },
  ] as const)('$case', async ({ failures, attempts, result }) => {
    const queue: string[] = [...failures];
    const slept: number[] = [];
    let calls = 0;
    const outcome = await withRetry(
      { ...defaultRetryPolicy, maxAttempts: 3, sleep: async (ms) => void slept.push(ms) },
      async () => {
        calls += 1;
        const code = queue.shift();
        if (code) throw new Error(code);
        return 'ok';
      },
      (err) => ({ error: new MeshlinkError((err as Error).message as 'unavailable', 'x') }),
    ).catch((err: MeshlinkError) => err.code);
    expect(outcome).toBe(result);
    expect(calls).toBe(attempts);
    expect(slept).toHaveLength(Math.min(attempts - 1, failures.length));
  });
});

describe('withRetry waits', () => {
  it('sleeps backoffDelay before each retry, at least the Retry-After the failure carried', async () => {
    const policy: RetryPolicy = { ...defaultRetryPolicy, maxAttempts: 4, baseDelayMs: 100, random: () => 0 };
    const retryAfters = [undefined, 5000, undefined];
    const slept: number[] = [];
    let calls = 0;
    const err = await withRetry(
      { ...policy, sleep: async (ms) => void slept.push(ms) },
      async () => {
        calls += 1;
        throw new Error('flaky');
      },
      () => ({ error: new MeshlinkError('unavailable', 'x'), retryAfterMs: retryAfters[calls - 1] }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshlinkError);
    expect(calls).toBe(4);
    expect(slept).toEqual([backoffDelay(policy, 1), backoffDelay(policy, 2, 5000), backoffDelay(policy, 3)]);
    expect(slept).toEqual([50, 5000, 200]);
  });

  it('rethrows a MeshlinkError as it is, without translating it', async () => {
    const thrown = new MeshlinkError('conflict', 'taken');
    let translated = 0;
    const err = await withRetry(defaultRetryPolicy, async () => Promise.reject(thrown), () => {
      translated += 1;
      return { error: new MeshlinkError('internal', 'no') };
    }).catch((e: unknown) => e);
    expect(err).toBe(thrown);
    expect(translated).toBe(0);
  });
});
