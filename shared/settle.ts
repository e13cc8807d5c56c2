// Independent steps run at once (their store and disk waits overlap), and every one is over before
// the caller goes on: a failure is thrown only once the others have settled, so nothing a caller's
// clean-up removes is written after it by a step still in flight.

/**
 * Every promise's value, in order; the first failure (in order) once all have settled. A step
 * that is no promise (a skipped one: `cond && step()`) is its own value.
 */
export async function allSettled<T extends readonly unknown[]>(steps: readonly [...{ [K in keyof T]: T[K] | Promise<T[K]> }]): Promise<T> {
  const settled = await Promise.allSettled(steps);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
