// A test app for rotation: the real use-cases on the in-memory store and clusters, both wrapped
// for crash injection, with helpers to read the link state and count store versions, and a
// driver that runs the worker and moves the clock to whenever the link has work next.
import type { AppSettings } from '../../shared/app/deps.js';
import { loadLink } from '../../shared/app/link-record.js';
import { applyLink } from '../../shared/app/provision.js';
import { rotateLink, type RotationOutcome } from '../../shared/app/rotate.js';
import { SIDES, storeSecretId, type StoreRole } from '../../shared/link/names.js';
import type { LinkState } from '../../shared/link/state.js';
import { specInput } from './builders.js';
import { testApp } from './app.js';
import { CrashingClusters, CrashingStore, CrashPlan, SimulatedCrash } from './crash.js';
import { clusterCredential, handshakeFailures, trustViolations } from './cluster-trust.js';

/** `handshakes`: check after every write that the Secrets handshake now (validity dates included), not only that trust holds. */
export function rotationApp(options: { settings?: Partial<AppSettings>; start?: string; workerId?: string; handshakes?: boolean } = {}) {
  const app = testApp({ ...(options.start ? { start: options.start } : {}), settings: options.settings ?? {}, ...(options.workerId ? { workerId: options.workerId } : {}) });
  const violations: string[] = [];
  // After every single write: does each side still present a certificate the peer trusts?
  // (Only a cluster write can change the answer; the last one is reused while the Secrets are the same.)
  let last: { key: string; found: string[] } | undefined;
  const plan = new CrashPlan((label) => {
    const secrets = SIDES.map((side) => clusterCredential(app.clusters, 'mysql', side));
    const key = JSON.stringify(options.handshakes ? [secrets, app.clock()] : secrets);
    if (last?.key !== key) last = { key, found: options.handshakes ? handshakeFailures(app.clusters, 'mysql', app.clock()) : trustViolations(app.clusters, 'mysql') };
    for (const v of last.found) violations.push(`after ${label}: ${v}`);
  });
  app.deps.store = new CrashingStore(app.store, plan);
  app.deps.clusters = new CrashingClusters(app.clusters, plan);

  const helpers = {
    ...app,
    plan,
    violations,
    async create(overrides: Record<string, unknown> = {}, name = 'mysql') {
      return applyLink(app.deps, specInput(overrides, name));
    },
    async state(name = 'mysql'): Promise<LinkState> {
      const record = await loadLink({ ...app.deps, store: app.store }, name);
      if (!record) throw new Error(`link ${name} not found`);
      return record.state;
    },
    /** Every version of a role's store secret (any state), oldest first. */
    async versions(role: StoreRole, name = 'mysql') {
      return (await app.memory.listVersions(storeSecretId(app.deps.settings.secretPrefix, name, role))).reverse();
    },
    /**
     * Runs the worker until `done(state)` holds after a run, moving the clock each time to when
     * the worker says the link has work next (never past `until`; with `until`, it returns once
     * a run at `until` is over). A simulated crash is survived as a restarted process would:
     * after the lease expires.
     */
    async drive(done: (s: LinkState) => boolean, options: { until?: Date; name?: string; maxRuns?: number } = {}): Promise<(RotationOutcome & { writesAfter: number })[]> {
      const name = options.name ?? 'mysql';
      const outcomes: (RotationOutcome & { writesAfter: number })[] = [];
      for (let i = 0; i < (options.maxRuns ?? 80); i++) {
        let outcome: RotationOutcome;
        try {
          outcome = await rotateLink(app.deps, name);
        } catch (err) {
          if (!(err instanceof SimulatedCrash)) throw err;
          plan.restart();
          app.clock.advance(app.deps.settings.leaseMs + 1);
          continue;
        }
        outcomes.push({ ...outcome, writesAfter: plan.writes });
        const state = await helpers.state(name);
        if (done(state)) return outcomes;
        const now = app.clock().getTime();
        let next = Math.max(outcome.next ? Date.parse(outcome.next.at) : Date.parse(state.nextRenewal ?? '0'), now + 1000);
        if (options.until) {
          if (now >= options.until.getTime()) return outcomes;
          next = Math.min(next, options.until.getTime());
        }
        app.clock.set(new Date(next));
      }
      throw new Error(`link ${name} did not settle after ${options.maxRuns ?? 80} runs`);
    },
  };
  return helpers;
}

export type RotationApp = ReturnType<typeof rotationApp>;
