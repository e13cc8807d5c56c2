// allSettled: independent steps at once, and a failure thrown only once every step is over, so a
// caller's clean-up never races a write still in flight.
import { describe, expect, it } from 'vitest';
import { allSettled } from '../../shared/settle.js';

describe('allSettled', () => {
  it('gives every value in order', async () => {
    expect(await allSettled([Promise.resolve(1), Promise.resolve('two')])).toEqual([1, 'two']);
  });

  it('throws the first failure in order, only after the slower steps have finished', async () => {
    const done: string[] = [];
    const slow = new Promise<void>((resolve) => setTimeout(() => resolve(void done.push('slow')), 5));
    const failing = Promise.reject(new Error('first'));
    const later = Promise.reject(new Error('second'));
    await expect(allSettled([failing, slow, later])).rejects.toThrow('first');
    expect(done).toEqual(['slow']);
  });
});
