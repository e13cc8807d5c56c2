// The pure plan for a link whose other side a partner runs: random lifetimes, graces and sweep
// intervals over three CA lifetimes. No step ever names the partner's side; our side's ca.crt
// never holds our CAs (it is the partner's bundle); our leaf switches to a new CA only a full
// grace after that CA entered ca.pem (the partner's time to fetch it); every rollover finishes
// before its old CA expires, and the plan is never blocked.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Side } from '../../shared/link/names.js';
import { isAction, planNextStep, DEFAULT_ROTATION_SETTINGS, type RotationSettings } from '../../shared/rotation/plan.js';
import { rolloverGraceMs } from '../../shared/rotation/rollover.js';
import { applyStep, DAY, oneSided, T0 } from '../support/rotation-facts.js';

describe('the plan of a one-sided link', () => {
  it('keeps to our side, lets the partner a grace to trust each new CA, and finishes every rollover', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Side>('client', 'server'),
        fc.integer({ min: 2, max: 30 }),
        fc.integer({ min: 3, max: 12 }),
        fc.integer({ min: 1, max: 48 }),
        fc.integer({ min: 1, max: 60 }),
        (ours, leafDays, caLeaves, graceHours, sweepMinutesPerDay) => {
          const leafTtlMs = leafDays * DAY;
          const caTtlMs = caLeaves * leafTtlMs;
          const settings: RotationSettings = { ...DEFAULT_ROTATION_SETTINGS, rolloverGraceMs: graceHours * 3_600_000 };
          // Sweeps often enough for the leaf renewal window (README's limit), at least hourly.
          const sweepMs = Math.max(3_600_000, Math.min(leafTtlMs / 4, (sweepMinutesPerDay * 60_000 * leafDays) / 2));
          let f = oneSided(ours, leafTtlMs, caTtlMs);
          const mintedAt = new Map<number, number>([[1, T0.getTime()]]);
          let rollovers = 0;
          let switches = 0;
          for (let t = T0.getTime(); t < T0.getTime() + 3 * caTtlMs; t += sweepMs) {
            // Each sweep finds every CA of the link current: a rollover never runs into its old CA's expiry.
            for (const c of f.cas) expect(c.notAfter.getTime()).toBeGreaterThan(t);
            for (let i = 0; i < 20; i++) {
              const now = new Date(t);
              const step = planNextStep(f, now, settings);
              expect(step.kind).not.toBe('blocked');
              if (!isAction(step)) break;
              if ('side' in step) expect(step.side).toBe(ours);
              if ('trust' in step) expect(step.trust).toEqual([]);
              if (step.kind === 'switch-signing' && !step.warning) expect(t - mintedAt.get(step.generation)!).toBeGreaterThanOrEqual(rolloverGraceMs(f, settings));
              if (step.kind === 'switch-signing') switches++;
              f = applyStep(f, step, now, leafTtlMs, caTtlMs);
              if (step.kind === 'mint-ca') mintedAt.set(step.generation, t);
              if (step.kind === 'finish-rollover') rollovers++;
              // Our side presents only a CA that ca.pem (the link's CAs) holds.
              expect(f.cas.map((c) => c.generation)).toContain(f.clusters[ours].caGeneration);
              expect(f.leaves[ours]!.trust).toEqual([]);
            }
          }
          expect(rollovers).toBeGreaterThanOrEqual(2);
          expect(switches).toBe(rollovers + (f.phase === 'stable' ? 0 : 1) - (f.phase === 'trust-added' ? 1 : 0));
        },
      ),
      { numRuns: 30 },
    );
  });
});
