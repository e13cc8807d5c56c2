// Invariant 8 on the use-case: a rollover's waits count from when both clusters hold the phase's
// trust, so leaves rotating during a rollover do not hold it back; a state stored before the
// waits were recorded still finishes its rollover.
import { describe, expect, it } from 'vitest';
import { loadLink } from '../../shared/app/link-record.js';
import { getLink } from '../../shared/app/queries.js';
import { forceRotation, rotateLink } from '../../shared/app/rotate.js';
import { unavailable } from '../support/memory-clusters.js';
import { rotationApp, type RotationApp } from '../support/rotation-app.js';

const GRACE_MS = 3_000;
const LEAF_EVERY_MS = 1_200;

const rolled = (app: RotationApp) => async () => {
  const s = await app.state();
  return s.phase === 'stable' && s.signingGeneration === 2;
};

/** Forces a leaf rotation every LEAF_EVERY_MS (each run also does whatever else is due) until `done` or `limitMs`. */
async function rotateLeavesUntil(app: RotationApp, done: () => Promise<boolean>, limitMs: number): Promise<number> {
  const start = app.clock().getTime();
  while (!(await done())) {
    if (app.clock().getTime() - start >= limitMs) break;
    app.clock.advance(LEAF_EVERY_MS);
    await forceRotation(app.deps, 'mysql', 'leaf');
    await rotateLink(app.deps, 'mysql');
  }
  return app.clock().getTime() - start;
}

describe('a CA rollover while leaves keep rotating', () => {
  it('a forced rollover finishes within its two waits while a leaf rotation is forced every 1.2 s', async () => {
    const app = rotationApp({ settings: { rolloverGraceMs: GRACE_MS, forcedRolloverGraceMs: GRACE_MS } });
    await app.create();
    const forced = await forceRotation(app.deps, 'mysql', 'ca');
    expect(forced.outcome).toBe('rotated');
    const took = await rotateLeavesUntil(app, rolled(app), 27_000);
    expect((await app.state()).phase).toBe('stable');
    // Two waits of 3 s, each noticed at the next 1.2 s tick.
    expect(took).toBeLessThanOrEqual(2 * (GRACE_MS + LEAF_EVERY_MS));
    expect(app.violations).toEqual([]);
  });

  it('a rollover stored without its recorded waits (older code) still finishes while leaves rotate', async () => {
    const app = rotationApp({ settings: { rolloverGraceMs: GRACE_MS, forcedRolloverGraceMs: GRACE_MS } });
    await app.create();
    await forceRotation(app.deps, 'mysql', 'ca');
    // As the previous code stored it: no record of when the clusters came to hold the trust.
    const record = (await loadLink({ ...app.deps, store: app.store }, 'mysql'))!;
    expect(record.state.phase).toBe('trust-added');
    delete (record.state as { rollover?: unknown }).rollover;
    await record.save();

    const took = await rotateLeavesUntil(app, rolled(app), 27_000);
    expect((await app.state()).phase).toBe('stable');
    // The first run records the wait as the old code counted it; leaf rotations after it do not restart it.
    expect(took).toBeLessThanOrEqual(2 * (GRACE_MS + LEAF_EVERY_MS) + LEAF_EVERY_MS);
    expect(app.violations).toEqual([]);
  });

  it('a rollover held back by a cluster past its deadline shows a warning, switches once both trust the new CA, and ends before the old CA expires', async () => {
    const app = rotationApp({ settings: { forcedRolloverGraceMs: 30_000, syncRetryMs: 10_000 } });
    await app.create({ certificates: { leafTtl: '1m', caTtl: '4m' } });
    const client = app.clusters.target('client-cluster');
    client.failure = unavailable('client-cluster');
    await forceRotation(app.deps, 'mysql', 'ca');
    const old = (await app.state()).cas[0]!;
    const expiry = Date.parse(old.notAfter);
    // Forced at creation: a quarter of the 4 minutes left is the margin, the grace is 30 s, so the trust wait must end by 2m30s.
    app.clock.set(new Date(expiry - 80_000));
    const late = await getLink(app.deps, 'mysql');
    expect(late.rotation).toMatchObject({ phase: 'trust-added', warning: expect.stringMatching(/^the rollover runs late: its trust wait ends/) });
    expect(late.rotation.rollover?.trustedAt).toBeUndefined();

    client.failure = undefined;
    const first = await rotateLink(app.deps, 'mysql');
    expect(first.steps).toContain('switch-signing(2)');
    expect(app.log.lines.find((l) => l.message === 'rollover advanced with a warning')).toMatchObject({ severity: 'WARNING' });
    await app.drive((s) => s.cas.every((ca) => ca.generation !== 1));
    expect(app.clock().getTime()).toBeLessThan(expiry);
    expect((await getLink(app.deps, 'mysql')).rotation.warning).toBeUndefined();
  });
});
