// Retirement gated on what the gateway serves (the probe's last look, recorded in the state): a
// superseded server leaf version stays enabled until the probe saw the current leaf served, or
// `servedGraceMs` after it was superseded (then a warning). Pure: facts, time and settings in.
import type { RetiredVersion } from '../link/state.js';
import type { RotationFacts } from './facts.js';

/** When a retired version may be disabled, given the version grace's time `disableAt`. */
export function servedGateAt(f: RotationFacts, r: RetiredVersion, disableAt: number, servedGraceMs: number): number {
  // No probe reached the gateway (no address, a partner, a failed dial): today's timing.
  if (r.role !== 'server' || !f.served || !f.leaves.server || r.disabled) return disableAt;
  if (f.served.fingerprint === f.leaves.server.fingerprint) return disableAt;
  return Math.max(disableAt, Date.parse(r.since) + servedGraceMs);
}

/** A warning once the served grace of the newest superseded server version ended without the probe seeing the current leaf. */
export function servedWarning(f: RotationFacts, now: Date, servedGraceMs: number): string | undefined {
  if (!f.served || !f.leaves.server || f.served.fingerprint === f.leaves.server.fingerprint) return undefined;
  const since = Math.max(...f.retired.filter((r) => r.role === 'server').map((r) => Date.parse(r.since)));
  if (!Number.isFinite(since) || now.getTime() < since + servedGraceMs) return undefined;
  return `the gateway was last seen serving a server leaf other than the current one (probed ${f.served.at.toISOString()}); the superseded version was retired after the served grace anyway: check that the ingress gateway reloads the Secret`;
}
