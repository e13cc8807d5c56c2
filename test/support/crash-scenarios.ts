// Shared by the crash-point tests: settings, predicates and end-state checks.
import { describe, expect, it } from 'vitest';
import { SIDES } from '../../shared/link/names.js';
import type { LinkState } from '../../shared/link/state.js';
import { chainsToAny, inspectCertificate, splitPemBundle } from '../../shared/pki/inspect.js';
import { dueReason } from '../../shared/rotation/due.js';
import { renewalTime } from '../../shared/rotation/renewal.js';
import { clusterCredential } from './cluster-trust.js';
import { rotationApp, type RotationApp } from './rotation-app.js';

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


/** A link whose CA is due (its leaves were rotated twice before and are not due). */
async function caDue() {
  const app = rotationApp({ settings: SETTINGS });
  await app.create({ certificates: { leafTtl: '30d', caTtl: '70d' } });
  const ca = (await app.state()).cas[0]!;
  const caRenewAt = renewalTime(new Date(ca.notBefore), new Date(ca.notAfter));
  await app.drive(() => false, { until: new Date(caRenewAt.getTime() - 1) });
  app.clock.set(caRenewAt);
  return app;
}

async function caRollover(crashAt: number | undefined) {
  const app = await caDue();
  const before = await versionCounts(app);
  app.plan.arm(crashAt);
  const rolled = (s: LinkState) => s.phase === 'stable' && s.signingGeneration === 2 && synced(s) && idle(app)(s);
  const runs = await app.drive(rolled);
  return { app, before, runs };
}

/**
 * The crash points of a full CA rollover, in two halves (one file each, to keep files short):
 * the writes of the first worker run (new CA, trust added and synced to both clusters), and the
 * writes of the later runs (leaves switched, then the old CA dropped).
 */
export function describeRolloverCrashes(half: 'trust-added' | 'switch-and-drop'): void {
  describe(`crash at every write of a full CA rollover: ${half}`, async () => {
    const { app: baseline, before, runs } = await caRollover(undefined);
    const firstRun = runs[0]!.writesAfter;
    const points = half === 'trust-added' ? [1, firstRun] : [firstRun + 1, baseline.plan.writes];

    it('goes through the three phases with trust held after every write', async () => {
      expect(runs.map((r) => r.steps.filter((s) => /mint|switch|advance|finish/.test(s)))).toEqual([['mint-ca(2)'], ['switch-signing(2)', 'advance-phase'], ['finish-rollover']]);
      expect(baseline.violations).toEqual([]);
      // Per side: trust added (same certificate), leaf from the new CA, old trust dropped.
      expect(await versionCounts(baseline)).toEqual({ ca: 2, server: before.server + 3, client: before.client + 3 });
      expect(baseline.plan.log.filter((l) => l.startsWith('cluster.apply'))).toHaveLength(6);
    });

    it.each(Array.from({ length: points[1]! - points[0]! + 1 }, (_, i) => points[0]! + i))('crash after write %i: one new CA, one set of versions, trust held throughout', async (n) => {
      const { app, before: start } = await caRollover(n);
      expect(app.plan.crashes).toBe(1);
      expect(app.violations).toEqual([]);
      expect(await versionCounts(app)).toEqual({ ca: 2, server: start.server + 3, client: start.client + 3 });
      const state = await app.state();
      expect(state.cas.map((c) => c.generation)).toEqual([2]);
      expect(SIDES.map((side) => [state.leaves[side]!.caGeneration, state.leaves[side]!.trust])).toEqual([
        [2, [2]],
        [2, [2]],
      ]);
      await expectClustersMatchStore(app, state);
      const caCert = splitPemBundle(clusterCredential(app.clusters, 'mysql', 'server')!['ca.crt']);
      expect(caCert).toHaveLength(1);
      expect(chainsToAny(clusterCredential(app.clusters, 'mysql', 'client')!['tls.crt'], caCert[0]!)).toBe(true);
    });
  });
}
