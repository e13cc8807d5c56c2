// How far a link is from expiry, from its state alone (what the sweep lists, no payload): the
// earliest leaf expiry, the newest CA's expiry, its issuer's chain end and the partner's first CA
// expiry, in days, for the sweep's per-link log line that the expiry alerts count. Pure.
import { newestCa, type LinkState } from '../link/state.js';
import type { IssuerTarget } from './facts.js';

const DAY_MS = 86_400_000;

export interface ExpiryFacts {
  /** Earliest expiry among the link's leaves. */
  leafNotAfter: string;
  daysToExpiry: number;
  /** Expiry of the newest CA: while a rollover has not minted a successor, the one the link depends on. */
  caNotAfter?: string;
  caDaysToExpiry?: number;
  nextRenewal?: string;
  /** The renewal time has passed and the credential has not been renewed yet. */
  renewalDue: boolean;
  /** Under an issuer: when its issuing chain ends (the next link CA cannot outlive it), as imported now. */
  issuerCaNotAfter?: string;
  issuerCaDaysToExpiry?: number;
  /** With a partner's side: when the first of the partner's CAs expires (its certificates stop verifying). */
  partnerCaNotAfter?: string;
  partnerCaDaysToExpiry?: number;
}

/** Days from `now` to `at`, two decimals (negative once expired). */
export function daysUntil(at: string, now: Date): number {
  return Math.round(((new Date(at).getTime() - now.getTime()) / DAY_MS) * 100) / 100;
}

/** Undefined for a link with no leaf yet (never completed: nothing can expire). `issuer`: the link's issuer as imported now. */
export function expiryFacts(state: LinkState, now: Date, issuer?: IssuerTarget): ExpiryFacts | undefined {
  const leaves = Object.values(state.leaves).filter((l) => l !== undefined);
  if (leaves.length === 0) return undefined;
  const leafNotAfter = leaves.map((l) => l.notAfter).reduce((a, b) => (new Date(b) < new Date(a) ? b : a));
  const newest = newestCa(state.cas);
  const issuerEnd = state.issuer && issuer?.name === state.issuer ? issuer.notAfter?.toISOString() : undefined;
  const partnerEnd = state.partner?.caNotAfter;
  return {
    leafNotAfter,
    daysToExpiry: daysUntil(leafNotAfter, now),
    ...(newest ? { caNotAfter: newest.notAfter, caDaysToExpiry: daysUntil(newest.notAfter, now) } : {}),
    ...(state.nextRenewal ? { nextRenewal: state.nextRenewal } : {}),
    renewalDue: !!state.nextRenewal && now >= new Date(state.nextRenewal),
    ...(issuerEnd ? { issuerCaNotAfter: issuerEnd, issuerCaDaysToExpiry: daysUntil(issuerEnd, now) } : {}),
    ...(partnerEnd ? { partnerCaNotAfter: partnerEnd, partnerCaDaysToExpiry: daysUntil(partnerEnd, now) } : {}),
  };
}
