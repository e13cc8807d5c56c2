// Invariant 8 on the use-case: a rollover's waits count from when both clusters hold the phase's
// trust, so leaves rotating during a rollover do not hold it back; a state stored before the
// waits were recorded still finishes its rollover.
import { describe, expect, it } from 'vitest';
import { loadLink } from '../../shared/app/link-record.js';
import { forceRotation, rotateLink } from '../../shared/app/rotate.js';
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
});
