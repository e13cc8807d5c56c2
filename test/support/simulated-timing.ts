// Retry timing for tests: a clock that moves only when the code sleeps, every sleep recorded.
import type { RetryTiming } from '../../shared/store/retry.js';

export function simulatedTiming(random: () => number = () => 0.5): RetryTiming & { sleeps: number[] } {
  let t = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    random,
    sleep: async (ms) => {
      sleeps.push(ms);
      t += ms;
    },
  };
}
