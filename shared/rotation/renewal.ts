// When a certificate is due: by default at two thirds of its lifetime (cert-manager's rule),
// or `renewBefore` ahead of expiry (a duration, or a percentage of the lifetime). A setting that
// would renew at or before issuance is ignored (falls back to the default). Pure.
import { parseDuration } from '../link/duration.js';
import type { LinkState } from '../link/state.js';

const DEFAULT_FRACTION = 2 / 3;

export function renewalTime(notBefore: Date, notAfter: Date, renewBefore?: string): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const fallback = new Date(notBefore.getTime() + Math.floor(lifetime * DEFAULT_FRACTION));
  if (!renewBefore || lifetime <= 0) return fallback;
  const percent = /^(\d{1,2})%$/.exec(renewBefore);
  const beforeMs = percent ? Math.floor((lifetime * Number(percent[1])) / 100) : parseDuration(renewBefore);
  if (beforeMs === undefined || beforeMs <= 0 || beforeMs >= lifetime) return fallback;
  return new Date(notAfter.getTime() - beforeMs);
}

/** The earliest renewal time among the link's leaves and signing CA (undefined if nothing issued). */
export function nextRenewal(state: LinkState, renewBefore?: string): Date | undefined {
  const times: Date[] = [];
  for (const leaf of Object.values(state.leaves)) {
    if (leaf) times.push(renewalTime(new Date(leaf.notBefore), new Date(leaf.notAfter), renewBefore));
  }
  const ca = state.cas.find((c) => c.generation === state.signingGeneration);
  if (ca) times.push(renewalTime(new Date(ca.notBefore), new Date(ca.notAfter), renewBefore));
  return times.length ? new Date(Math.min(...times.map((t) => t.getTime()))) : undefined;
}
