// Time is a parameter: the pure core takes `now`, the edges pass a Clock.

export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
