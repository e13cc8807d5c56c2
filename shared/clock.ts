// Time is a parameter: the pure core takes `now`, the edges pass a Clock.

export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

/** A clock a test can move by hand. */
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
