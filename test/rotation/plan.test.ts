// Whole sequences of the pure planner, stepped by a simulator: leaf rotation, CA rollover (the
// three phases, their order and grace periods), forced rotations, failures mid-way, version
// retirement and the clearing of places a move left. Invariant 1 is checked on the simulated
// clusters after every step.
import { describe, expect, it } from 'vitest';
import type { RotationFacts } from '../../shared/rotation/facts.js';
import { DEFAULT_ROTATION_SETTINGS, describeStep, isAction, planNextStep, type RotationSettings, type Step } from '../../shared/rotation/plan.js';
import { applyStep, at, ca, DAY, leaf, stableFacts, T0, trustHolds } from '../support/rotation-facts.js';

const HOUR = 3_600_000;
// Versions are retired long after the sequences below end, so they do not interleave.
const S: RotationSettings = { ...DEFAULT_ROTATION_SETTINGS, rolloverGraceMs: HOUR, forcedRolloverGraceMs: 60_000, versionGraceMs: 10 * DAY, versionRetentionMs: 20 * DAY };

interface Run {
  facts: RotationFacts;
  now: Date;
  steps: string[];
  times: Record<string, Date>;
}

/** Steps the planner until `stop` holds after a wait/done, jumping the clock to each wait's end. */
function simulate(facts: RotationFacts, start: Date, stop: (f: RotationFacts, step: Step) => boolean, settings = S, limit = 200, leafTtlMs?: number): Run {
  const run: Run = { facts, now: start, steps: [], times: {} };
  for (let i = 0; i < limit; i++) {
    const step = planNextStep(run.facts, run.now, settings);
    if (step.kind === 'blocked') throw new Error(`blocked: ${step.reason}`);
    if (isAction(step)) {
      run.facts = applyStep(run.facts, step, run.now, leafTtlMs);
      run.steps.push(describeStep(step));
      run.times[describeStep(step)] ??= run.now;
      if (!trustHolds(run.facts)) throw new Error(`invariant 1 broken after ${describeStep(step)}`);
      continue;
    }
    if (stop(run.facts, step)) return run;
    run.now = step.kind === 'wait' || step.kind === 'done' ? step.until : run.now;
  }
  throw new Error(`no end after ${limit} steps: ${run.steps.join(' ')}`);
}

const caDueAt = Math.floor((365 * DAY * 2) / 3);

describe('leaf rotation', () => {
  it('re-issues each leaf at two thirds and syncs it, leaving the CA alone', () => {
    const run = simulate(stableFacts(), T0, (f) => f.leaves.server!.version === '2' && f.leaves.client!.version === '2');
    expect(run.steps).toEqual(['issue-leaf(server)', 'issue-leaf(client)', 'sync(server)', 'sync(client)']);
    expect(run.times['issue-leaf(server)']).toEqual(at(20 * DAY));
    expect(run.facts.cas.map((c) => c.generation)).toEqual([1]);
  });

  it('disables a superseded version after the grace period and destroys it after retention', () => {
    const run = simulate(stableFacts(), at(20 * DAY), (f) => f.retired.length === 0 && f.leaves.server!.version === '2', { ...S, versionGraceMs: HOUR, versionRetentionMs: DAY });
    expect(run.steps.filter((s) => s === 'retire-versions')).toHaveLength(2);
    expect(run.times['retire-versions']).toEqual(at(20 * DAY + HOUR));
  });

  it('destroys the oldest superseded versions early beyond the cap (the state stays small)', () => {
    const f = stableFacts({
      retired: Array.from({ length: 5 }, (_, i) => ({ role: 'server' as const, version: String(i + 10), since: at(i).toISOString() })),
    });
    const step = planNextStep(f, at(1000), { ...S, maxRetiredVersions: 3 });
    expect(step).toMatchObject({ kind: 'retire-versions', disable: [], destroy: [{ version: '10' }, { version: '11' }] });
  });

  it('never retires a version a cluster still projects', () => {
    const f = stableFacts({ retired: [{ role: 'server', version: '1', since: T0.toISOString() }] });
    expect(planNextStep(f, at(10 * DAY), S)).toMatchObject({ kind: 'done' });
  });
});

describe('CA rollover', () => {
  const rolled = (f: RotationFacts) => f.phase === 'stable' && f.signingGeneration === 2;

  it('runs the three phases in order: trust to both, grace, leaves from the new CA, grace, old trust dropped', () => {
    const start = stableFacts({ leaves: { server: leaf('server', 1, at(caDueAt - DAY)), client: leaf('client', 1, at(caDueAt - DAY)) } });
    const run = simulate(start, at(caDueAt), rolled);
    expect(run.steps).toEqual([
      'mint-ca(2)',
      'publish-trust(server)',
      'publish-trust(client)',
      'sync(server)',
      'sync(client)',
      'switch-signing(2)',
      'issue-leaf(server)',
      'issue-leaf(client)',
      'sync(server)',
      'sync(client)',
      'advance-phase',
      'publish-trust(server)',
      'publish-trust(client)',
      'sync(server)',
      'sync(client)',
      'finish-rollover',
    ]);
    expect(run.times['mint-ca(2)']).toEqual(at(caDueAt));
    expect(run.times['switch-signing(2)']).toEqual(at(caDueAt + HOUR));
    expect(run.times['finish-rollover']).toEqual(at(caDueAt + 2 * HOUR));
    expect(run.facts.cas.map((c) => c.generation)).toEqual([2]);
    expect(run.facts.leaves.server!.trust).toEqual([2]);
    expect(run.facts.retired.filter((r) => r.role === 'ca')).toEqual([{ role: 'ca', version: '1', since: at(caDueAt + 2 * HOUR).toISOString() }]);
  });

  it('counts the grace from when the second cluster holds the new trust, not from the mint', () => {
    const start = stableFacts({ leaves: { server: leaf('server', 1, at(caDueAt - DAY)), client: leaf('client', 1, at(caDueAt - DAY)) } });
    let f = start;
    let now = at(caDueAt);
    for (const _ of [1, 2, 3, 4]) f = applyStep(f, planNextStep(f, now, S), now); // mint, trust x2, sync server
    f = { ...f, clusters: { ...f.clusters, client: { ...f.clusters.client, status: 'error', at: now } } }; // the client cluster is down
    expect(planNextStep(f, now, S)).toMatchObject({ kind: 'wait', reason: 'sync-retry(client)' });
    now = at(caDueAt + 30 * 60_000);
    f = applyStep(f, planNextStep(f, now, S), now); // sync client, 30 minutes late
    expect(planNextStep(f, at(caDueAt + HOUR), S)).toEqual({ kind: 'wait', until: at(caDueAt + 30 * 60_000 + HOUR), reason: 'rollover-grace(trust-added)' });
  });

  it('leaves renewing more often than the grace do not restart its waits (invariant 8)', () => {
    // Leaves of 30 minutes renew every 20 minutes, three times within each one-hour wait.
    const leafTtl = 30 * 60_000;
    const start = stableFacts({ leaves: { server: leaf('server', 1, at(caDueAt - 10 * 60_000), leafTtl), client: leaf('client', 1, at(caDueAt - 5 * 60_000), leafTtl) } });
    const run = simulate(start, at(caDueAt), rolled, S, 400, leafTtl);
    expect(run.steps.slice(0, run.steps.indexOf('switch-signing(2)'))).toContain('issue-leaf(server)');
    expect(run.times['switch-signing(2)']).toEqual(at(caDueAt + HOUR));
    expect(run.times['finish-rollover']).toEqual(at(caDueAt + 2 * HOUR));
  });

  it('starts early enough for two full waits and a margin when renewBefore leaves less (a 365-day CA renewed 2 hours ahead)', () => {
    const old = ca(1);
    const start = stableFacts({ cas: [{ ...old, renewAt: new Date(old.notAfter.getTime() - 2 * HOUR) }] });
    const run = simulate(start, at(caDueAt), rolled);
    expect(run.times['mint-ca(2)']).toEqual(new Date(old.notAfter.getTime() - 4 * HOUR));
    expect(run.times['finish-rollover']).toEqual(new Date(old.notAfter.getTime() - 2 * HOUR));
  });

  it('a rollover whose trust came late (a cluster down) switches at its deadline, with a warning, and ends a margin before the old CA expires', () => {
    // CA 1 lives 10 minutes; CA 2 was minted at 6m40s: a quarter of what was left is 50 s (the grace and the margin).
    const old = ca(1, T0, 10 * 60_000);
    const mintedAt = at(400_000);
    const lateAt = at(480_000); // the client cluster held the new trust only at 8 minutes
    const sides = { server: leaf('server', 1, at(360_000), 240_000, { trust: [1, 2] }), client: leaf('client', 1, at(360_000), 240_000, { trust: [1, 2] }) };
    const start = stableFacts({
      cas: [old, ca(2, mintedAt, 10 * 60_000)],
      phase: 'trust-added',
      phaseSince: mintedAt,
      leaves: sides,
      clusters: {
        server: { status: 'synced', version: sides.server.version, at: mintedAt, caGeneration: 1, trust: [1, 2] },
        client: { status: 'synced', version: sides.client.version, at: lateAt, caGeneration: 1, trust: [1, 2] },
      },
    });
    const switchBy = old.notAfter.getTime() - 50_000 - 50_000;
    expect(planNextStep(start, lateAt, S)).toEqual({ kind: 'wait', until: new Date(switchBy), reason: 'rollover-grace(trust-added)' });
    expect(planNextStep(start, new Date(switchBy), S)).toMatchObject({ kind: 'switch-signing', warning: expect.stringMatching(/^the rollover runs late: its trust wait ends/) });
    const run = simulate(start, lateAt, rolled);
    expect(run.times['switch-signing(2)']).toEqual(new Date(switchBy));
    expect(run.times['finish-rollover']).toEqual(new Date(old.notAfter.getTime() - 50_000));
  });

  it('a leaves-switched state stored without the recorded waits (older code) drops the old CA a grace after the phase began, however often leaves rotated since', () => {
    const switched = at(DAY);
    const sides = { server: leaf('server', 2, at(DAY + HOUR / 2), 30 * DAY, { trust: [1, 2] }), client: leaf('client', 2, at(DAY + HOUR / 2), 30 * DAY, { trust: [1, 2] }) };
    const f = stableFacts({
      cas: [ca(1), ca(2, at(DAY - HOUR))],
      signingGeneration: 2,
      phase: 'leaves-switched',
      phaseSince: switched,
      leaves: sides,
      clusters: {
        server: { status: 'synced', version: sides.server.version, at: at(DAY + HOUR / 2), caGeneration: 2, trust: [1, 2] },
        client: { status: 'synced', version: sides.client.version, at: at(DAY + HOUR / 2), caGeneration: 2, trust: [1, 2] },
      },
    });
    expect(f.rollover).toBeUndefined();
    expect(planNextStep(f, at(DAY + HOUR / 2), S)).toEqual({ kind: 'wait', until: at(DAY + HOUR), reason: 'rollover-grace(leaves-switched)' });
  });

  it('a forced rollover waits only the forced grace', () => {
    const start = stableFacts({ forced: { ca: { at: at(DAY).toISOString(), generation: 2 } } });
    const run = simulate(start, at(DAY), (f) => rolled(f) && !f.forced);
    expect(run.steps[0]).toBe('mint-ca(2)');
    expect(run.times['switch-signing(2)']!.getTime() - at(DAY).getTime()).toBe(60_000);
    expect(run.times['finish-rollover']!.getTime() - run.times['advance-phase']!.getTime()).toBe(60_000);
    expect(run.steps.at(-1)).toBe('complete-force');
  });

  it('a force during a rollover continues it (no third CA)', () => {
    const start = stableFacts({ cas: [ca(1, at(-300 * DAY)), ca(2, at(-1000))], phase: 'trust-added', phaseSince: at(-1000), forced: { ca: { at: T0.toISOString(), generation: 2 } } });
    const run = simulate(start, T0, (f) => rolled(f) && !f.forced);
    expect(run.steps.filter((s) => s.startsWith('mint-ca'))).toEqual([]);
    expect(run.facts.cas.map((c) => c.generation)).toEqual([2]);
  });

  it('shortens the grace to a quarter of what a short-lived CA has left', () => {
    const shortCa = ca(1, T0, 10 * 60_000);
    const start = stableFacts({ cas: [shortCa], leaves: { server: leaf('server', 1, T0, 60_000), client: leaf('client', 1, T0, 60_000) } });
    const run = simulate(start, at(400_000), rolled, S);
    const mintedAt = run.times['mint-ca(2)']!.getTime();
    const grace = run.times['switch-signing(2)']!.getTime() - mintedAt;
    expect(grace).toBeLessThanOrEqual((shortCa.notAfter.getTime() - mintedAt) / 4);
    expect(run.times['finish-rollover']!.getTime()).toBeLessThan(shortCa.notAfter.getTime());
  });

  it('re-issues a leaf that comes due during the grace from the old CA, trusting both', () => {
    const start = stableFacts({ leaves: { server: leaf('server', 1, at(caDueAt - 20 * DAY + HOUR / 2)), client: leaf('client', 1, at(caDueAt - DAY)) } });
    const run = simulate(start, at(caDueAt), rolled);
    const i = run.steps.indexOf('switch-signing(2)');
    expect(run.steps.slice(0, i)).toContain('issue-leaf(server)');
    expect(run.facts.leaves.server!.caGeneration).toBe(2);
  });

  it('recovers from an expired CA: new trust first, then leaves, without waiting for a grace', () => {
    const start = stableFacts({ cas: [ca(1, at(-365 * DAY))], leaves: { server: leaf('server', 1, at(-30 * DAY)), client: leaf('client', 1, at(-30 * DAY)) } });
    const run = simulate(start, T0, rolled);
    expect(run.steps.slice(0, 6)).toEqual(['mint-ca(2)', 'publish-trust(server)', 'publish-trust(client)', 'sync(server)', 'sync(client)', 'switch-signing(2)']);
    expect(run.times['switch-signing(2)']).toEqual(T0);
  });
});

describe('forced leaf rotation', () => {
  it('re-issues both leaves now, then records the force as done', () => {
    const f = stableFacts();
    f.forced = { leaf: { at: at(DAY).toISOString(), replace: { server: f.leaves.server!.fingerprint, client: f.leaves.client!.fingerprint } } };
    const run = simulate(f, at(DAY), (x) => !x.forced);
    expect(run.steps).toEqual(['issue-leaf(server)', 'issue-leaf(client)', 'sync(server)', 'sync(client)', 'complete-force']);
    expect(run.times['issue-leaf(server)']).toEqual(at(DAY));
  });
});

describe('clearing the places a move left (LinkState.stale)', () => {
  const R = S.syncRetryMs;
  const notSynced = (side: 'server' | 'client', status: 'pending' | 'error') => (f: RotationFacts) => {
    f.leaves[side] = { ...f.leaves[side]!, version: '2' };
    f.clusters[side] = { ...f.clusters[side], status, at: at(DAY) };
  };
  const rollover = (f: RotationFacts) => {
    f.cas = [ca(1), ca(2, at(DAY))];
    f.phase = 'trust-added';
    f.phaseSince = at(DAY);
    for (const side of ['server', 'client'] as const) {
      f.leaves[side] = { ...f.leaves[side]!, trust: [1, 2] };
      f.clusters[side] = { ...f.clusters[side], trust: [1, 2], at: at(DAY) };
    }
  };
  const cases: { case: string; stale?: RotationFacts['stale']; change?: (f: RotationFacts) => void; now: Date; want: Partial<Step> }[] = [
    { case: 'nothing left: idle until the renewal', now: at(DAY), want: { kind: 'done', reason: 'renewal' } },
    { case: 'places left, both sides synced: clear them', stale: { places: 2 }, now: at(DAY), want: { kind: 'clear-stale-places' } },
    { case: 'places left, a side not synced with the new spec yet: its sync first', stale: { places: 2 }, change: notSynced('client', 'pending'), now: at(DAY), want: { kind: 'sync', side: 'client' } },
    { case: 'places left, a side whose sync failed: wait for its retry, never clear before', stale: { places: 2 }, change: notSynced('server', 'error'), now: at(DAY + 1000), want: { kind: 'wait', until: at(DAY + R), reason: 'sync-retry(server)' } },
    { case: 'the last clearing failed just now: wait syncRetryMs', stale: { places: 1, failedAt: at(DAY) }, now: at(DAY + 1000), want: { kind: 'wait', until: at(DAY + R), reason: 'stale-retry' } },
    { case: 'the last clearing failed syncRetryMs ago: clear again', stale: { places: 1, failedAt: at(DAY) }, now: at(DAY + R), want: { kind: 'clear-stale-places' } },
    { case: 'during a rollover grace period: clear at once (no wait for the grace)', stale: { places: 1 }, change: rollover, now: at(DAY + 1000), want: { kind: 'clear-stale-places' } },
    { case: 'a failed clearing retried before a rollover grace ends', stale: { places: 1, failedAt: at(DAY) }, change: rollover, now: at(DAY + 1000), want: { kind: 'wait', until: at(DAY + R), reason: 'stale-retry' } },
  ];
  it.each(cases)('$case', ({ stale, change, now, want }) => {
    const f = stableFacts(stale ? { stale } : {});
    change?.(f);
    expect(planNextStep(f, now, S)).toMatchObject(want);
  });

  it('a link moved while its old cluster was down clears the places, after its new sides are synced, and then is idle', () => {
    const f = stableFacts({ stale: { places: 3 } });
    notSynced('server', 'pending')(f);
    notSynced('client', 'pending')(f);
    const run = simulate(f, at(DAY), (x, step) => !x.stale && step.kind === 'done');
    expect(run.steps).toEqual(['sync(server)', 'sync(client)', 'clear-stale-places']);
  });
});
