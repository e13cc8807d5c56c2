// Crash-point enumeration (invariant 5): for every write N of a full CA rollover (crash-leaf.test.ts: a leaf
// rotation), the N-th write is performed and the process "dies"; a new run after the lease
// expires must finish the rotation exactly once (CA generations and credential versions counted),
// and after every single write each side's cluster Secret must present a certificate that the
// peer's cluster ca.crt trusts (invariant 1).
import { describe, expect, it } from 'vitest';
import { SIDES } from '../../shared/link/names.js';
import type { LinkState } from '../../shared/link/state.js';
import { chainsToAny, splitPemBundle } from '../../shared/pki/inspect.js';
import { renewalTime } from '../../shared/rotation/renewal.js';
import { clusterCredential } from '../support/cluster-trust.js';
import { expectClustersMatchStore, idle, SETTINGS, synced, versionCounts } from '../support/crash-scenarios.js';
import { rotationApp } from '../support/rotation-app.js';

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
  await app.drive(rolled);
  return { app, before };
}

describe('crash at every write of a full CA rollover', async () => {
  const { app: baseline, before } = await caRollover(undefined);
  const total = baseline.plan.writes;

  it('goes through the three phases with trust held after every write', async () => {
    expect(baseline.violations).toEqual([]);
    // Per side: trust added (same certificate), leaf from the new CA, old trust dropped.
    expect(await versionCounts(baseline)).toEqual({ ca: 2, server: before.server + 3, client: before.client + 3 });
    expect(baseline.plan.log.filter((l) => l.startsWith('cluster.apply'))).toHaveLength(6);
  });

  it.each(Array.from({ length: total }, (_, i) => i + 1))('crash after write %i: one new CA, one set of versions, trust held throughout', async (n) => {
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
