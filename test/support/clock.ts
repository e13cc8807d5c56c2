// A clock a test moves by hand (production passes systemClock).
import type { Clock } from '../../shared/clock.js';

export function manualClock(start: Date | string = '2026-01-01T00:00:00Z'): Clock & { advance(ms: number): void; set(t: Date | string): void } {
  let t = new Date(start).getTime();
  const clock = (() => new Date(t)) as Clock & { advance(ms: number): void; set(t: Date | string): void };
  clock.advance = (ms: number) => {
    t += ms;
  };
  clock.set = (v: Date | string) => {
    t = new Date(v).getTime();
  };
  return clock;
}
