// Pacing: a burst of due links meets Secret Manager's write quotas (per project and minute, per
// secret and second) through the real client against the wire-level fake enforcing them, on
// simulated time (the fake's clock; a retry's sleep moves it). Scaled down twentyfold: 50 links
// due at once, a quota of 30 writes a minute and a write budget of 25 (the defaults: 1,000 links,
// 600 and 500). Paced, the sweeps spread the burst over minutes and no write is refused; the same
// burst handed over at once (no budget to speak of) is refused, which shows the fake bites.
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, type AppDeps } from '../../shared/app/deps.js';
import { applyLink } from '../../shared/app/provision.js';
import { InProcessRotationQueue } from '../../shared/queue/in-process-rotation-queue.js';
import { linksPerSweep, sweep } from '../../shared/app/sweep.js';
import { manualClock } from '../support/clock.js';
import { memoryLogger } from '../support/log.js';
import { SecretManagerStore } from '../../shared/store/secret-manager-store.js';
import { startFakeSecretManager, type FakeSecretManager } from '../fakes/secret-manager-server.js';
import { specInput, withField } from '../support/builders.js';
import { MemoryClusters } from '../support/memory-clusters.js';

const DAY = 86_400_000;
const QUOTAS = { perMinute: 30, perSecretPerSecond: 2 };

const open: { store: SecretManagerStore; fake: FakeSecretManager }[] = [];
afterEach(async () => {
  for (const { store, fake } of open.splice(0)) {
    await store.close();
    await fake.close();
  }
});

/** `links` links created half a minute apart (within the quota), then all due at once. */
async function burst(links: number, writeBudget: number) {
  const clock = manualClock('2026-11-23T10:00:00Z');
  const fake = await startFakeSecretManager({ clock, quotas: QUOTAS });
  // Simulated time: a retry's wait moves the clock the fake counts its windows on.
  const timing = { now: () => clock().getTime(), random: () => 0.5, sleep: async (ms: number) => clock.advance(ms) };
  const store = new SecretManagerStore({ project: fake.project, apiEndpoint: '127.0.0.1', port: fake.port, plaintext: true, timing });
  open.push({ store, fake });
  const deps: AppDeps = { store, clusters: new MemoryClusters(), clock, log: memoryLogger(), settings: { ...DEFAULT_SETTINGS, writeBudget }, workerId: 'pacing-test' };
  for (let i = 0; i < links; i++) {
    await applyLink(deps, withField(specInput({}, `l${i}`), 'server.gatewayPort', 20000 + i));
    clock.advance(30_000);
  }
  clock.advance(21 * DAY); // past every leaf's renewal (two thirds of 30 days)
  return { fake, deps, clock, refusedBefore: fake.quotaRefusals };
}

describe('a burst of due rotations against the write quotas', () => {
  it('paced by the write budget: every link rotated, over several sweeps a minute apart, without one RESOURCE_EXHAUSTED', async () => {
    const { fake, deps, clock, refusedBefore } = await burst(50, 25);
    const perSweep = linksPerSweep(25);
    const rotated = new Set<string>();
    let sweeps = 0;
    for (;;) {
      const report = await sweep(deps, new InProcessRotationQueue(deps));
      sweeps++;
      expect(report.due.length).toBeLessThanOrEqual(perSweep);
      for (const r of report.rotated) {
        expect(r.outcome).toBe('rotated');
        rotated.add(r.link);
      }
      if (report.due.length === 0 && report.deferred === 0) break;
      clock.advance(60_000);
    }
    expect(rotated.size).toBe(50);
    expect(sweeps).toBe(Math.ceil(50 / perSweep) + 1); // the last one finds nothing due
    expect(fake.quotaRefusals - refusedBefore).toBe(0);
  }, 120_000);

  it('handed over at once: the same quota refuses writes', async () => {
    const { fake, deps, refusedBefore } = await burst(20, 1_000_000);
    const report = await sweep(deps, new InProcessRotationQueue(deps));
    expect(report.due).toHaveLength(20);
    expect(fake.quotaRefusals - refusedBefore).toBeGreaterThan(0);
  }, 120_000);
});
