// Retirement gated on what the gateway serves (the probe's last look, recorded in the state): a
// superseded server leaf version stays enabled until the probe saw the current leaf served, or
// `servedGraceMs` after it was superseded (then a warning); a CA rollover drops the old CA only
// once the probe saw the gateway serve the current leaf (of the new CA), or `servedGraceMs` after
// it could have (then a warning). Pure: facts, time and settings in.
import type { RetiredVersion } from '../link/state.js';
import type { RotationFacts } from './facts.js';

/** Whether the probe's last look saw the gateway serve a server leaf other than the current one. */
function servesAnother(f: RotationFacts): boolean {
  return !!f.served && !!f.leaves.server && f.served.fingerprint !== f.leaves.server.fingerprint;
}

/** When a retired version may be disabled, given the version grace's time `disableAt`. */
export function servedGateAt(f: RotationFacts, r: RetiredVersion, disableAt: number, servedGraceMs: number): number {
  // No probe reached the gateway (no address, a partner, a failed dial), or it saw the current leaf: the version grace alone.
  if (r.role !== 'server' || r.disabled || !servesAnother(f)) return disableAt;
  return Math.max(disableAt, Date.parse(r.since) + servedGraceMs);
}

/** A warning once the served grace of the newest superseded server version ended without the probe seeing the current leaf. */
export function servedWarning(f: RotationFacts, now: Date, servedGraceMs: number): string | undefined {
  if (!servesAnother(f)) return undefined;
  const since = Math.max(...f.retired.filter((r) => r.role === 'server').map((r) => Date.parse(r.since)));
  if (!Number.isFinite(since) || now.getTime() < since + servedGraceMs) return undefined;
  return `the gateway was last seen serving a server leaf other than the current one (probed ${f.served!.at.toISOString()}); the superseded version was retired after the served grace anyway: check that the ingress gateway reloads the Secret`;
}

/**
 * When a rollover may drop the old CAs, given the grace's time `dropAt`: while the gateway was last
 * seen serving another leaf (one of the old CA, which the clients would stop trusting), the drop
 * waits for a probe that sees the current leaf, at most `servedGraceMs`. No probe: `dropAt`.
 */
export function servedDropAt(f: RotationFacts, dropAt: number, servedGraceMs: number): number {
  if (!servesAnother(f)) return dropAt;
  // Never past the old CA's end: a leaf of an expired CA fails whatever the clients trust.
  const oldEnds = Math.min(...f.cas.filter((ca) => ca.generation !== f.signingGeneration).map((ca) => ca.notAfter.getTime()));
  return Math.max(dropAt, Math.min(dropAt + servedGraceMs, oldEnds));
}

/** The warning of a drop made after the served grace while the gateway was last seen serving another leaf. */
export function servedDropWarning(f: RotationFacts): string | undefined {
  if (!servesAnother(f)) return undefined;
  return `the gateway was last seen serving a server leaf other than the current one (probed ${f.served!.at.toISOString()}); the old CA was dropped after the served grace anyway: check that the ingress gateway reloads the Secret`;
}
