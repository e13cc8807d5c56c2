// Shared by the crash-point tests: settings, predicates and end-state checks.
import { expect } from 'vitest';
import { SIDES } from '../../shared/link/names.js';
import type { LinkState } from '../../shared/link/state.js';
import { inspectCertificate, splitPemBundle } from '../../shared/pki/inspect.js';
import { dueReason } from '../../shared/rotation/due.js';
import { clusterCredential } from './cluster-trust.js';
import type { RotationApp } from './rotation-app.js';

export const DAY = 86_400_000;
export const HOUR = 3_600_000;
// Versions are retired long after these scenarios end, so every version ever stored is counted.
export const SETTINGS = { rolloverGraceMs: HOUR, versionGraceMs: 30 * DAY, versionRetentionMs: 60 * DAY };

export const idle = (app: RotationApp) => (s: LinkState) => dueReason(s, 'mysql', app.clock(), app.deps.settings) === undefined;
export const synced = (s: LinkState) => SIDES.every((side) => s.sync[side].status === 'synced' && s.sync[side].version === s.leaves[side]?.version);

export async function versionCounts(app: RotationApp) {
  return { ca: (await app.versions('ca')).length, server: (await app.versions('server')).length, client: (await app.versions('client')).length };
}

/** What the clusters hold at the end: each Secret is the stored credential the state names. */
export async function expectClustersMatchStore(app: RotationApp, state: LinkState) {
  for (const side of SIDES) {
    const cluster = clusterCredential(app.clusters, 'mysql', side)!;
    expect(inspectCertificate(cluster['tls.crt']).fingerprint).toBe(state.leaves[side]!.fingerprint);
    expect(splitPemBundle(cluster['ca.crt']).map((pem) => inspectCertificate(pem).fingerprint)).toEqual(state.leaves[side]!.trust.map((g) => state.cas.find((c) => c.generation === g)!.fingerprint));
  }
}

