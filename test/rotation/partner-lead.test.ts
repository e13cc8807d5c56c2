// The partner's overlap (MESHLINK_PARTNER_LEAD): a rollover of a link with a partner's side offers
// the new CA in ca.pem a full partner lead before our side presents it, starts early enough for
// that, and shows the deadline (trustNextCaBy) from the mint on, never moving it earlier. Pure
// plan on simulated time (fast-check over lifetimes, leads, graces and sweep intervals).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Side } from '../../shared/link/names.js';
import type { RotationFacts } from '../../shared/rotation/facts.js';
import { DEFAULT_ROTATION_SETTINGS, isAction, planNextStep, type RotationSettings } from '../../shared/rotation/plan.js';
import { rolloverSchedule } from '../../shared/rotation/rollover.js';
import { applyStep, DAY, oneSided, stableFacts, T0 } from '../support/rotation-facts.js';

const HOUR = 3_600_000;

/** Runs the plan at every sweep over three CA lifetimes; what each new CA's rollover did, and when. */
function simulate(f0: RotationFacts, settings: RotationSettings, caTtlMs: number, leafTtlMs: number, sweepMs: number) {
  let f = f0;
  const ours = f.sides[0]!;
  const rollovers = new Map<number, { mintedAt: number; deadlines: number[]; switchedAt?: number; presentedFrom?: number; finishedAt?: number }>();
  for (let t = T0.getTime(); t < T0.getTime() + 3 * caTtlMs; t += sweepMs) {
    for (const c of f.cas) expect(c.notAfter.getTime(), 'a CA expired during its rollover').toBeGreaterThan(t);
    for (let i = 0; i < 20; i++) {
      const now = new Date(t);
      // What the status shows the partner: the deadline, while the new CA waits to sign.
      const newest = f.cas[f.cas.length - 1]!;
      const deadline = f.phase === 'trust-added' && f.signingGeneration !== newest.generation ? rolloverSchedule(f, now, settings).switchAt : undefined;
      if (deadline !== undefined) rollovers.get(newest.generation)?.deadlines.push(deadline);
      const step = planNextStep(f, now, settings);
      expect(step.kind).not.toBe('blocked');
      if (!isAction(step)) break;
      f = applyStep(f, step, now, leafTtlMs, caTtlMs);
      if (step.kind === 'mint-ca') rollovers.set(step.generation, { mintedAt: t, deadlines: [] });
      if (step.kind === 'switch-signing') rollovers.get(step.generation)!.switchedAt = t;
      if (step.kind === 'finish-rollover') rollovers.get(f.signingGeneration)!.finishedAt = t;
      // Our side presents only a CA that ca.pem holds, and a new CA only from its deadline on.
      const presented = f.clusters[ours].caGeneration!;
      expect(f.cas.map((c) => c.generation)).toContain(presented);
      const r = rollovers.get(presented);
      if (r && r.presentedFrom === undefined) r.presentedFrom = t;
    }
  }
  return rollovers;
}

describe('the partner lead', () => {
  it('gives the partner a full lead between ca.pem offering a CA and our side presenting it, shown from the mint and never moved earlier', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Side>('client', 'server'),
        fc.integer({ min: 1, max: 30 }), // lead, days
        fc.integer({ min: 1, max: 48 }), // grace, hours
        fc.integer({ min: 13, max: 30 }), // CA lifetime in leads: long enough for the full lead
        fc.integer({ min: 3, max: 10 }), // leaves per CA
        fc.integer({ min: 4, max: 24 }), // sweeps per lead
        (ours, leadDays, graceHours, caLeads, caLeaves, sweepsPerLead) => {
          const lead = leadDays * DAY;
          const settings: RotationSettings = { ...DEFAULT_ROTATION_SETTINGS, rolloverGraceMs: graceHours * HOUR, partnerLeadMs: lead };
          const wait = Math.max(lead, settings.rolloverGraceMs);
          const caTtlMs = caLeads * wait;
          const leafTtlMs = Math.floor(caTtlMs / caLeaves);
          const sweepMs = Math.min(Math.floor(wait / sweepsPerLead), Math.floor(leafTtlMs / 4));
          const rollovers = simulate(oneSided(ours, leafTtlMs, caTtlMs), settings, caTtlMs, leafTtlMs, sweepMs);
          const done = [...rollovers.values()].filter((r) => r.finishedAt !== undefined);
          expect(done.length).toBeGreaterThanOrEqual(2);
          for (const r of rollovers.values()) {
            if (r.deadlines.length === 0) continue;
            // The deadline the status shows never moves: what the partner was told holds.
            expect(new Set(r.deadlines).size).toBe(1);
            const [deadline] = r.deadlines as [number];
            expect(deadline - r.mintedAt).toBeGreaterThanOrEqual(wait);
            if (r.presentedFrom !== undefined) expect(r.presentedFrom).toBeGreaterThanOrEqual(deadline);
            if (r.switchedAt !== undefined) expect(r.switchedAt).toBeGreaterThanOrEqual(deadline);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('starts a rollover early enough for the lead: four leads before the CA expires when renewBefore is later', () => {
    const settings: RotationSettings = { ...DEFAULT_ROTATION_SETTINGS, partnerLeadMs: 14 * DAY };
    // renewBefore 10d: a two-sided link starts the rollover 10 days before expiry (four graces are less).
    const renewAt = (f: RotationFacts) => ({ ...f, cas: f.cas.map((c) => ({ ...c, renewAt: new Date(c.notAfter.getTime() - 10 * DAY) })) });
    const twoSided = renewAt(stableFacts());
    const partnered = renewAt(oneSided('client', 30 * DAY, 365 * DAY));
    const startOf = (f: RotationFacts) => {
      for (let t = T0.getTime(); ; t += HOUR) {
        const step = planNextStep(f, new Date(t), settings);
        if (step.kind === 'mint-ca') return t;
        if (step.kind === 'issue-leaf' || step.kind === 'sync') f = applyStep(f, step, new Date(t));
      }
    };
    expect(startOf(twoSided)).toBe(T0.getTime() + 355 * DAY);
    expect(startOf(partnered)).toBe(T0.getTime() + 365 * DAY - 56 * DAY);
  });
});
