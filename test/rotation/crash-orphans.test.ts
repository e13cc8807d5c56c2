// Orphan versions: a store version that a crashed run stored and no run recorded must not stay
// ENABLED for ever. A forced leaf rotation is killed after each of its writes while the rollover's
// drop grace runs out, so the resumed run wants another `ca.crt` and cannot adopt what was stored;
// and a version an older crash left behind the recorded one is retired when the sweep next
// rotates that side. Retired means: disabled, then destroyed, like any superseded version.
import { describe, expect, it } from 'vitest';
import { loadLink } from '../../shared/app/link-record.js';
import { forceRotation } from '../../shared/app/rotate.js';
import { InProcessRotationQueue } from '../../shared/queue/in-process-rotation-queue.js';
import { sweep } from '../../shared/app/sweep.js';
import { SIDES, storeSecretId } from '../../shared/link/names.js';
import { metadataStep } from '../../shared/rotation/due.js';
import type { LinkState } from '../../shared/link/state.js';
import { DAY, HOUR, idle, synced } from '../support/crash-scenarios.js';
import { SimulatedCrash } from '../support/crash.js';
import { rotationApp, type RotationApp } from '../support/rotation-app.js';

const MINUTE = 60_000;
// Retirement outlasts the rollover's waits (so the first thing due after the switch is the drop)
// and ends long before the next leaf renewal (so "nothing retired" is a state the link reaches).
const SETTINGS = { rolloverGraceMs: HOUR, versionGraceMs: 6 * HOUR, versionRetentionMs: DAY };
const REQUEST = 'incident-4711';

/** Versions not destroyed, per store secret, against the versions the state uses. */
async function liveVersions(app: RotationApp, state: LinkState) {
  const live = async (role: 'ca' | 'server' | 'client') => (await app.versions(role)).filter((v) => v.state !== 'DESTROYED').map((v) => v.version);
  return {
    live: { ca: await live('ca'), server: await live('server'), client: await live('client') },
    used: { ca: state.cas.map((c) => c.version), server: [state.leaves.server!.version], client: [state.leaves.client!.version] },
  };
}

const settled = (app: RotationApp) => (s: LinkState) => !s.forced && s.phase === 'stable' && synced(s) && (s.retired ?? []).length === 0 && idle(app)(s);

/**
 * A link in `leaves-switched` one minute before the old CA leaves both bundles; a forced leaf
 * rotation, killed after write `crashAt` and retried (same request id) once the lease expired,
 * which is after the drop: the resumed run issues leaves with `ca.crt` = the new CA only.
 */
async function forcedLeafAcrossDrop(crashAt: number | undefined) {
  const app = rotationApp({ settings: SETTINGS });
  await app.create({ certificates: { leafTtl: '30d', caTtl: '70d' } });
  const runs = await app.drive((s) => s.phase === 'leaves-switched' && synced(s) && idle(app)(s));
  const dropAt = Date.parse(runs.at(-1)!.next!.at);
  app.clock.set(new Date(dropAt - MINUTE));
  const before = await app.state();
  app.plan.arm(crashAt);
  const forced = await forceRotation(app.deps, 'mysql', 'leaf', REQUEST).catch((err: unknown) => {
    if (!(err instanceof SimulatedCrash)) throw err;
    return undefined;
  });
  const forcedWrites = app.plan.writes;
  if (!forced) {
    app.plan.restart();
    app.clock.advance(app.deps.settings.leaseMs + 1);
    expect(app.clock().getTime()).toBeGreaterThan(dropAt);
    await forceRotation(app.deps, 'mysql', 'leaf', REQUEST); // the client retries
  }
  await app.drive(settled(app));
  return { app, before, dropAt, forcedWrites };
}

describe('crash at every write of a forced leaf rotation while the target changes', async () => {
  const { app: baseline, before, dropAt, forcedWrites } = await forcedLeafAcrossDrop(undefined);

  it('is a forced rotation before the drop, with the old CA still trusted; after it, ca.crt holds one CA', async () => {
    expect(before.phase).toBe('leaves-switched');
    expect(before.cas.map((c) => c.generation)).toEqual([1, 2]);
    const planAt = (t: number) => metadataStep(before, 'mysql', new Date(t), baseline.deps.settings);
    expect(planAt(dropAt - MINUTE).kind).toBe('wait');
    expect(planAt(dropAt)).toMatchObject({ kind: 'publish-trust', trust: [2] });
    expect(baseline.plan.log.filter((l) => l.startsWith('store.addVersion')).length).toBeGreaterThanOrEqual(2);
    expect(baseline.violations).toEqual([]);
    const { live, used } = await liveVersions(baseline, await baseline.state());
    expect(live).toEqual(used);
  });

  it.each(Array.from({ length: forcedWrites }, (_, i) => i + 1))('crash after write %i: no version stays live that the state does not use', async (n) => {
    const { app } = await forcedLeafAcrossDrop(n);
    expect(app.plan.crashes).toBe(1);
    expect(app.violations).toEqual([]);
    const state = await app.state();
    expect(SIDES.map((side) => state.leaves[side]!.fingerprint)).not.toContain(before.leaves.server!.fingerprint);
    expect(SIDES.map((side) => state.leaves[side]!.trust)).toEqual([[2], [2]]);
    const { live, used } = await liveVersions(app, state);
    expect(live).toEqual(used);
  });
});

describe('a version an older crash left behind the recorded one', () => {
  it('is retired when the sweep next rotates that side; idle sweeps still read metadata only', async () => {
    const app = rotationApp({ settings: SETTINGS });
    await app.create({ certificates: { leafTtl: '30d', caTtl: '365d' } });
    // What the defect left: version 2 stored by a killed run, version 3 recorded after it, 1 retired.
    const id = storeSecretId(app.deps.settings.secretPrefix, 'mysql', 'server');
    const { payload } = await app.memory.accessVersion(id, '1');
    expect(await app.memory.addVersion(id, payload)).toBe('2');
    expect(await app.memory.addVersion(id, payload)).toBe('3');
    const record = (await loadLink({ ...app.deps, store: app.memory }, 'mysql'))!;
    const s = record.state;
    record.state = {
      ...s,
      leaves: { ...s.leaves, server: { ...s.leaves.server!, version: '3' } },
      sync: { ...s.sync, server: { ...s.sync.server, version: '3' } },
      retired: [{ role: 'server', version: '1', since: app.clock().toISOString() }],
    };
    await record.save();

    const queue = new InProcessRotationQueue(app.deps);
    const orphanStates: string[] = [];
    // A sweep every two hours for 25 days: the server leaf comes due on day 20.
    for (let sweeps = 0; sweeps < (25 * DAY) / (2 * HOUR); sweeps++) {
      app.clock.advance(2 * HOUR);
      app.store.reset();
      const report = await sweep(app.deps, queue);
      if (report.due.length === 0) expect(app.store.calls).toMatchObject({ listSecrets: 1, listVersions: 0, accessVersion: 0, getSecret: 0 });
      // Orphans are found in the listing each store write makes anyway: no extra call.
      else expect(app.store.calls.listVersions).toBe(app.store.calls.addVersion);
      const orphan = (await app.versions('server')).find((v) => v.version === '2')!.state;
      if (orphanStates.at(-1) !== orphan) orphanStates.push(orphan);
    }
    expect(orphanStates).toEqual(['ENABLED', 'DISABLED', 'DESTROYED']);
    const state = await app.state();
    expect(state.leaves.server!.version).toBe('4');
    expect((await app.versions('server')).map((v) => [v.version, v.state])).toEqual([
      ['1', 'DESTROYED'],
      ['2', 'DESTROYED'],
      ['3', 'DESTROYED'],
      ['4', 'ENABLED'],
    ]);
  });
});
