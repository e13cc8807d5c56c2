// Crash-point enumeration (invariant 5): for every write N of a leaf rotation and of a full CA
// rollover, the N-th write is performed and the process "dies"; a new run after the lease
// expires must finish the rotation exactly once (CA generations and credential versions counted),
// and after every single write each side's cluster Secret must present a certificate that the
// peer's cluster ca.crt trusts (invariant 1).
import { describe, expect, it } from 'vitest';
import { SIDES } from '../../shared/link/names.js';
import type { LinkState } from '../../shared/link/state.js';
import { DAY, expectClustersMatchStore, idle, SETTINGS, synced, versionCounts } from '../support/crash-scenarios.js';
import { rotationApp } from '../support/rotation-app.js';

async function leafRotation(crashAt: number | undefined) {
  const app = rotationApp({ settings: SETTINGS });
  await app.create({ certificates: { leafTtl: '30d', caTtl: '365d' } });
  app.clock.advance(20 * DAY); // both leaves reach two thirds
  app.plan.arm(crashAt);
  const rotated = (s: LinkState) => SIDES.every((side) => s.leaves[side]!.version !== '1') && synced(s) && idle(app)(s);
  await app.drive(rotated);
  return app;
}

describe('crash at every write of a leaf rotation', async () => {
  const baseline = await leafRotation(undefined);
  const total = baseline.plan.writes;

  it('has a handful of writes, each a store write or one cluster Secret write', () => {
    expect(total).toBeGreaterThanOrEqual(6);
    expect(baseline.plan.log.filter((l) => l.startsWith('cluster.apply'))).toHaveLength(2);
    expect(baseline.plan.log.filter((l) => l.startsWith('store.addVersion'))).toHaveLength(2);
    expect(baseline.violations).toEqual([]);
  });

  it.each(Array.from({ length: total }, (_, i) => i + 1))('crash after write %i: rotated exactly once, trust held throughout', async (n) => {
    const app = await leafRotation(n);
    expect(app.plan.crashes).toBe(1);
    expect(app.violations).toEqual([]);
    expect(await versionCounts(app)).toEqual({ ca: 1, server: 2, client: 2 });
    const state = await app.state();
    expect(state.cas.map((c) => c.generation)).toEqual([1]);
    await expectClustersMatchStore(app, state);
  });
});

