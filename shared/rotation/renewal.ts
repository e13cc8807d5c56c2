// When a certificate is due: by default at two thirds of its lifetime (cert-manager's rule),
// or `renewBefore` ahead of expiry (a duration, or a percentage of the lifetime). A setting that
// would renew at or before issuance is ignored (falls back to the default). Pure.
import { parseDuration } from '../link/duration.js';
import { newestCa, type LinkState } from '../link/state.js';
import { BACKDATE_MS } from '../pki/types.js';
import type { RotationSettings } from './plan.js';

const DEFAULT_FRACTION = 2 / 3;

/**
 * When a certificate was issued: meshlink back-dates notBefore by BACKDATE_MS for clock skew, and
 * that margin is not lifetime (counted in, a 1m leaf would be due the moment it is issued).
 */
export function issuedAt(notBefore: Date, notAfter: Date): Date {
  return new Date(Math.min(notBefore.getTime() + BACKDATE_MS, notAfter.getTime()));
}

export function renewalTime(notBefore: Date, notAfter: Date, renewBefore?: string): Date {
  const issued = issuedAt(notBefore, notAfter).getTime();
  const lifetime = notAfter.getTime() - issued;
  const fallback = new Date(issued + Math.floor(lifetime * DEFAULT_FRACTION));
  if (!renewBefore || lifetime <= 0) return fallback;
  const percent = /^(\d{1,2})%$/.exec(renewBefore);
  const beforeMs = percent ? Math.floor((lifetime * Number(percent[1])) / 100) : parseDuration(renewBefore);
  if (beforeMs === undefined || beforeMs <= 0 || beforeMs >= lifetime) return fallback;
  return new Date(notAfter.getTime() - beforeMs);
}

/**
 * The longest wait of a rollover at its full length: the grace, or for a link with a partner's side
 * the partner lead (its trust wait, never shorter than the grace).
 */
export function rolloverWaitMs(s: Pick<RotationSettings, 'rolloverGraceMs' | 'partnerLeadMs'>, partner: boolean): number {
  return partner ? Math.max(s.partnerLeadMs, s.rolloverGraceMs) : s.rolloverGraceMs;
}

/**
 * The latest time a CA's rollover may start: early enough for its two waits at their full
 * `graceMs` (the longest wait: rolloverWaitMs) and a margin of two more before it expires (rollover.ts caps each wait at a quarter
 * of what the old CA has left), but not before half its life, so a CA shorter than the waits
 * does not roll over the moment it is minted.
 */
export function latestRolloverStart(notBefore: Date, notAfter: Date, graceMs: number): Date {
  const issued = issuedAt(notBefore, notAfter).getTime();
  const end = notAfter.getTime();
  return new Date(Math.max(issued + Math.floor((end - issued) / 2), end - 4 * graceMs));
}

/** When a CA's rollover starts: at its renewal time, or earlier when that leaves too little time (latestRolloverStart). */
export function caRenewalTime(notBefore: Date, notAfter: Date, renewBefore: string | undefined, graceMs: number): Date {
  return new Date(Math.min(renewalTime(notBefore, notAfter, renewBefore).getTime(), latestRolloverStart(notBefore, notAfter, graceMs).getTime()));
}

/**
 * The earliest renewal time among the link's leaves and its newest CA (undefined if nothing
 * issued); with the rollover's longest wait (rolloverWaitMs), the CA's is when its rollover starts (caRenewalTime). The newest, not the signing one: during a rollover the old CA is already being
 * replaced, and counting it would make the link look due at every sweep of the grace periods.
 */
export function nextRenewal(state: LinkState, renewBefore?: string, rolloverGraceMs?: number): Date | undefined {
  const times: Date[] = [];
  for (const leaf of Object.values(state.leaves)) {
    if (leaf) times.push(renewalTime(new Date(leaf.notBefore), new Date(leaf.notAfter), renewBefore));
  }
  const newest = newestCa(state.cas);
  if (newest) {
    const [notBefore, notAfter] = [new Date(newest.notBefore), new Date(newest.notAfter)];
    times.push(rolloverGraceMs === undefined ? renewalTime(notBefore, notAfter, renewBefore) : caRenewalTime(notBefore, notAfter, renewBefore, rolloverGraceMs));
  }
  return times.length ? new Date(Math.min(...times.map((t) => t.getTime()))) : undefined;
}
