// Invariant 8 as a property: random leaf and CA lifetimes, renewBefore, graces, sweep interval and
// forced rotations, over three CA lifetimes of the real use-cases on the manual clock. At every
// instant (after every write, and at every sweep and force) the current cluster Secrets handshake
// by chain verification, and no CA of the link is past its expiry (every rollover finished
// before its old CA expired). The sweep interval is drawn within the limits README.md states.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { forceRotation } from '../../shared/app/rotate.js';
import { InProcessRotationQueue } from '../../shared/queue/in-process-rotation-queue.js';
import { sweep } from '../../shared/app/sweep.js';
import { BACKDATE_MS } from '../../shared/pki/types.js';
import { caRenewalTime, renewalTime } from '../../shared/rotation/renewal.js';
import { handshakeFailures } from '../support/cluster-trust.js';
import { rotationApp } from '../support/rotation-app.js';

const S = 1_000;
/** Property runs in `npm test`: each simulates three CA lifetimes (tens of leaf rotations). */
const RUNS = Number(process.env.ROLLOVER_SIMULATION_RUNS ?? 8);

interface Scenario {
  leafTtlS: number;
  caTtlS: number;
  renewBefore?: string;
  graceMs: number;
  forcedGraceMs: number;
  sweepMs: number;
  /** Forced rotations, at these offsets from the start. */
  forced: { atMs: number; scope: 'leaf' | 'ca' }[];
}

/** From the renewal time to the expiry of a certificate issued at 0 for `ttlMs` (back-dated as minted). */
function window(ttlMs: number, renewAt: (notBefore: Date, notAfter: Date) => Date): number {
  return ttlMs - renewAt(new Date(-BACKDATE_MS), new Date(ttlMs)).getTime();
}

/**
 * The longest sweep interval README.md says works: shorter than a leaf's renewal window (so each
 * leaf is renewed before it expires), and than a fifth of the CA's rollover window (so each wait
 * is noticed in time: see docs/rotation.md).
 */
function longestSweepMs(leafTtlMs: number, caTtlMs: number, renewBefore: string | undefined, graceMs: number): number {
  const leaf = window(leafTtlMs, (nb, na) => renewalTime(nb, na, renewBefore));
  const ca = window(caTtlMs, (nb, na) => caRenewalTime(nb, na, renewBefore, graceMs));
  return Math.min(leaf, ca / 5);
}

async function run(sc: Scenario): Promise<{ failures: string[]; generation: number; rollovers: number }> {
  const app = rotationApp({
    settings: { rolloverGraceMs: sc.graceMs, forcedRolloverGraceMs: sc.forcedGraceMs, versionGraceMs: sc.leafTtlS * S, versionRetentionMs: 2 * sc.leafTtlS * S },
    handshakes: true,
  });
  await app.create({ certificates: { leafTtl: `${sc.leafTtlS}s`, caTtl: `${sc.caTtlS}s`, ...(sc.renewBefore ? { renewBefore: sc.renewBefore } : {}) } });
  app.violations.length = 0; // creation writes one side's Secret before the other's
  const queue = new InProcessRotationQueue(app.deps);
  const start = app.clock().getTime();
  const end = start + 3 * sc.caTtlS * S;
  const forced = [...sc.forced].sort((a, b) => a.atMs - b.atMs);
  const failures: string[] = [];
  let rollovers = 0;
  let nextSweep = start + sc.sweepMs;
  /** The instant checks: the Secrets handshake, and every CA of the link is unexpired. */
  const check = async () => {
    const now = app.clock();
    failures.push(...handshakeFailures(app.clusters, 'mysql', now));
    for (const ca of (await app.state()).cas) {
      if (Date.parse(ca.notAfter) <= now.getTime()) failures.push(`at ${now.toISOString()} CA generation ${ca.generation} expired at ${ca.notAfter}, its rollover unfinished`);
    }
  };
  while (app.clock().getTime() < end && failures.length === 0) {
    const force = forced[0] && start + forced[0].atMs < nextSweep ? forced.shift()! : undefined;
    app.clock.set(new Date(force ? start + force.atMs : nextSweep));
    await check();
    if (force) {
      const outcome = await forceRotation(app.deps, 'mysql', force.scope);
      rollovers += outcome.steps.filter((s) => s === 'finish-rollover').length;
      continue;
    }
    const report = await sweep(app.deps, queue);
    rollovers += report.rotated.flatMap((o) => o.steps).filter((s) => s === 'finish-rollover').length;
    for (const o of report.rotated) if (o.error) failures.push(`at ${app.clock().toISOString()} ${o.error}`);
    nextSweep += sc.sweepMs;
  }
  failures.push(...app.violations);
  return { failures, generation: (await app.state()).signingGeneration, rollovers };
}

const scenario: fc.Arbitrary<Scenario> = fc
  .record({
    leafTtlS: fc.integer({ min: 60, max: 3_600 }),
    // Bounded so a run mints at most about a hundred leaves.
    caOverLeaf: fc.integer({ min: 2, max: 4 }),
    renewBefore: fc.oneof(fc.constant(undefined), fc.integer({ min: 20, max: 67 }).map((p) => `${p}%`), fc.double({ min: 0.2, max: 0.67, noNaN: true })),
    graceOverCa: fc.double({ min: 0.02, max: 2, noNaN: true }),
    forcedOverGrace: fc.double({ min: 0.05, max: 1, noNaN: true }),
    sweepShare: fc.double({ min: 0.3, max: 0.95, noNaN: true }),
    // A CA forced the moment the link is created is the worst case for the rollover after it.
    forced: fc.array(fc.record({ share: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 3, noNaN: true })), scope: fc.constantFrom('leaf' as const, 'ca' as const) }), { maxLength: 4 }),
  })
  .map((r) => {
    const caTtlS = r.leafTtlS * r.caOverLeaf;
    // A duration renewBefore is drawn as a share of the leaf lifetime (the CA uses the same setting).
    const renewBefore = typeof r.renewBefore === 'number' ? `${Math.max(1, Math.floor(r.leafTtlS * r.renewBefore))}s` : r.renewBefore;
    const graceMs = Math.max(S, Math.floor(caTtlS * S * r.graceOverCa));
    const sweepMs = Math.max(S, Math.floor(r.sweepShare * longestSweepMs(r.leafTtlS * S, caTtlS * S, renewBefore, graceMs)));
    return {
      leafTtlS: r.leafTtlS,
      caTtlS,
      ...(renewBefore ? { renewBefore } : {}),
      graceMs,
      forcedGraceMs: Math.max(S, Math.floor(graceMs * r.forcedOverGrace)),
      sweepMs,
      forced: r.forced.map((f) => ({ atMs: Math.floor(f.share * caTtlS * S), scope: f.scope })),
    };
  });

describe('rollovers on the manual clock (invariant 8)', () => {
  const links: { case: string; scenario: Scenario }[] = [
    { case: '1m leaves, 4m CA, renewBefore 75%, grace 30s, a sweep every 20s (the link that stalled)', scenario: { leafTtlS: 60, caTtlS: 240, renewBefore: '75%', graceMs: 30 * S, forcedGraceMs: 30 * S, sweepMs: 20 * S, forced: [] } },
    { case: '4m leaves, 12m CA, the default grace of 1h, a sweep every minute (README’s local example)', scenario: { leafTtlS: 240, caTtlS: 720, graceMs: 3_600 * S, forcedGraceMs: 60 * S, sweepMs: 60 * S, forced: [] } },
  ];
  it.each(links)('$case: every handshake verifies, every rollover ends before its CA expires', async ({ scenario }) => {
    const result = await run(scenario);
    expect(result.failures).toEqual([]);
    expect(result.rollovers).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('any leaf lifetime, CA lifetime, renewBefore, grace and forced rotations, with a sweep within the stated limits', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const result = await run(sc);
        expect(result.failures).toEqual([]);
        // Three CA lifetimes: at least two rollovers of their own, more when forced.
        expect(result.generation).toBeGreaterThanOrEqual(3);
      }),
      { numRuns: RUNS },
    );
  }, RUNS * 20_000);
});
