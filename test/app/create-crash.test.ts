// Invariants 5, 2 and 7 for creating a link, whose record is written last: a crash after any
// single write (store or cluster) leaves a link that nothing but its own POST sees (reads 404,
// the sweep and registrations pass it by) and that the same POST completes with one CA and one
// version per secret; or that DELETE of its name removes entirely. Two creates of one name at once
// make one CA and one version per secret.
import { beforeAll, describe, expect, it } from 'vitest';
import { deleteLink } from '../../shared/app/delete.js';
import { applyLink } from '../../shared/app/provision.js';
import { getLink } from '../../shared/app/queries.js';
import { registerCluster } from '../../shared/app/register.js';
import { sweep } from '../../shared/app/sweep.js';
import { InProcessRotationQueue } from '../../shared/queue/in-process-rotation-queue.js';
import { loadLink } from '../../shared/app/link-record.js';
import { isMeshlinkError } from '../../shared/errors.js';
import { LABEL_LINK, objectNames, SIDES, storeSecretId } from '../../shared/link/names.js';
import { parseLinkSpec } from '../../shared/link/spec.js';
import { hostClaimId, portClaimId } from '../../shared/app/port-claim.js';
import { testApp } from '../support/app.js';
import { largeSpecInput, specInput, withField } from '../support/builders.js';
import { leftOf } from '../support/leftovers.js';
import { clusterCredential, trustViolations } from '../support/cluster-trust.js';
import { CrashingClaims, CrashingClusters, CrashingStore, CrashPlan, SimulatedCrash } from '../support/crash.js';
import { CLAIM_BACKENDS, useClaims, type ClaimBackend } from '../support/claim-backends.js';
import { unavailable } from '../support/memory-clusters.js';

/** A test app whose every write may crash; with a bucket, its claims' creates and deletes are writes too. */
async function crashingApp(backend: ClaimBackend = 'store secrets') {
  const app = testApp();
  const plan = new CrashPlan();
  const claims = await useClaims(backend, app.deps, app.clock);
  app.deps.store = new CrashingStore(app.store, plan);
  app.deps.clusters = new CrashingClusters(app.clusters, plan);
  if (app.deps.claims) app.deps.claims = new CrashingClaims(app.deps.claims, plan);
  return { ...app, plan, claims };
}
type App = Awaited<ReturnType<typeof crashingApp>>;

/** POST crashing after write `n`; whether it crashed (false: it finished before write n). */
async function createCrashingAt(app: App, n: number, spec: unknown = specInput()): Promise<boolean> {
  app.plan.arm(n);
  try {
    await applyLink(app.deps, spec);
  } catch (err) {
    if (!(err instanceof SimulatedCrash)) throw err;
  }
  // A crash in a cluster write is recorded by the sync that made it, not thrown: the process is dead all the same.
  const crashed = app.plan.crashed;
  app.plan.restart();
  return crashed;
}

/**
 * One CA generation and one version in each credential secret (and of the spec, when it is a
 * version), the ones the state names; the clusters present them.
 */
async function expectOneOfEach(app: App): Promise<void> {
  const state = (await loadLink({ ...app.deps, store: app.store }, 'mysql'))!.state;
  const versions = async (role: 'ca' | 'client' | 'server' | 'link') => (await app.memory.listVersions(storeSecretId('meshlink', 'mysql', role))).map((v) => v.version);
  expect(state.cas.map((c) => c.generation)).toEqual([1]);
  expect(await versions('ca')).toEqual([state.cas[0]!.version]);
  expect(await versions('link')).toEqual(state.specVersion ? [state.specVersion] : []);
  for (const side of SIDES.filter((s) => !state.partner || s !== state.partner.side)) {
    expect(await versions(side)).toEqual([state.leaves[side]!.version]);
    expect(state.sync[side]).toMatchObject({ status: 'synced', version: state.leaves[side]!.version });
    expect(clusterCredential(app.clusters, 'mysql', side)).toBeDefined();
  }
  // Each leaf under the CA the state names (an adopted CA, not one minted ahead by the repeat).
  expect(trustViolations(app.clusters, 'mysql')).toEqual([]);
}

const notFound = (err: unknown) => isMeshlinkError(err, 'not-found');

let large: unknown;
beforeAll(async () => {
  large = await largeSpecInput(testApp().clock());
});

describe.each([
  ['in the annotation', 'store secrets', () => specInput()],
  ['over 4 KiB, a version', 'store secrets', () => large],
  ['in the annotation', 'a Cloud Storage bucket', () => specInput()],
] as const)('a crash after any write of a create, its spec %s, claims in %s', (_, backend, spec) => {
  it('leaves a link nothing else sees, which the same POST completes with one CA and one version per secret', async () => {
    let n = 1;
    for (; ; n++) {
      const app = await crashingApp(backend);
      const crashed = await createCrashingAt(app, n, spec());
      if (!crashed) break;
      // Before the record (the last write) nothing shows the link; after it, the link is complete.
      if (!(await loadLink(app.deps, 'mysql'))) {
        expect(notFound(await getLink(app.deps, 'mysql').catch((e: unknown) => e)), `crash after write ${n}`).toBe(true);
        const writes = app.plan.writes;
        const swept = await sweep(app.deps, { enqueue: async () => [] });
        expect(swept.due).toEqual([]);
        expect((await registerCluster(app.deps, { kind: 'registered', aliases: ['client-cluster'], source: 'meshlink' })).links).toEqual([]);
        expect(app.plan.writes).toBe(writes);
      }
      app.clock.advance(app.deps.settings.leaseMs + 1); // the crashed process's creation lease runs out
      await applyLink(app.deps, spec());
      await expectOneOfEach(app);
      expect(await applyLink(app.deps, spec())).toMatchObject({ created: false });
    }
    // At least the store's writes (2 claims, the CA secret with the creation lease and its
    // version, each leaf's secret and version, the record) and the clusters'.
    expect(n - 1).toBeGreaterThan(6);
  });

  it('leaves what DELETE of the name removes entirely: claims, credentials and cluster objects', async () => {
    let n = 1;
    for (; ; n++) {
      const app = await crashingApp(backend);
      const crashed = await createCrashingAt(app, n, spec());
      app.clock.advance(app.deps.settings.leaseMs + 1);
      await deleteLink(app.deps, 'mysql');
      expect(await leftOf(app), `crash after write ${n}`).toEqual([]);
      expect(notFound(await deleteLink(app.deps, 'mysql').catch((e: unknown) => e))).toBe(true);
      if (!crashed) break;
    }
  });
});

describe('a create stopped before its record', () => {
  it('with a cluster not answering at DELETE: the places stay for the sweep, as a deleted link\'s do', async () => {
    const app = await crashingApp();
    let n = 1;
    // The first crash after a cluster write: objects are there, the record is not.
    for (; ; n++) {
      const probe = await crashingApp();
      await createCrashingAt(probe, n);
      if (probe.plan.log.at(-1)?.startsWith('cluster')) break;
    }
    await createCrashingAt(app, n);
    expect(await loadLink(app.deps, 'mysql')).toBeUndefined();
    app.clock.advance(app.deps.settings.leaseMs + 1);
    app.clusters.target('client-cluster').failure = unavailable('client-cluster');
    expect((await deleteLink(app.deps, 'mysql')).pending.length).toBeGreaterThan(0);
    expect(notFound(await getLink(app.deps, 'mysql').catch((e: unknown) => e))).toBe(true);
    app.clusters.target('client-cluster').failure = undefined;
    app.clock.advance(app.deps.settings.syncRetryMs + 1);
    await sweep(app.deps, new InProcessRotationQueue(app.deps));
    expect(await leftOf(app)).toEqual([]);
  });

  it('keeps its gateway port and host from other links past its lease, until DELETE gives them up', async () => {
    const app = await crashingApp();
    await createCrashingAt(app, 4); // the claims, the CA secret and its version
    app.clock.advance(app.deps.settings.leaseMs + 1);
    const rival = specInput({ host: 'mysql.link.example.com' }, 'rival');
    expect(await applyLink(app.deps, rival).catch((e: unknown) => e)).toMatchObject({ code: 'conflict', details: [{ path: 'host' }] });
    expect(await applyLink(app.deps, { ...rival, host: 'rival.link.example.com' }).catch((e: unknown) => e)).toMatchObject({ details: [{ path: 'server.gatewayPort' }] });
    await deleteLink(app.deps, 'mysql');
    expect(await applyLink(app.deps, rival)).toMatchObject({ created: true });
  });

  it('while it runs, refuses a DELETE of the name (409), which then works once the creation lease ran out', async () => {
    const app = await crashingApp();
    await createCrashingAt(app, 4);
    expect(await deleteLink(app.deps, 'mysql').catch((e: unknown) => e)).toMatchObject({ code: 'conflict' });
    app.clock.advance(app.deps.settings.leaseMs + 1);
    await deleteLink(app.deps, 'mysql');
    expect(await leftOf(app)).toEqual([]);
  });
});

describe('two creates of one name at once', () => {
  it('make one CA and one version per secret: one creates, the other is refused or finds it made', async () => {
    const app = await crashingApp();
    const other = { ...app.deps, workerId: 'other-worker' };
    const results = await Promise.allSettled([applyLink(app.deps, specInput()), applyLink(other, specInput())]);
    expect(results.filter((r) => r.status === 'fulfilled' && r.value.created)).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'conflict' });
    await expectOneOfEach(app);
  });
});

/** Everything of the link's in the clusters: objects and its ingress Service port. */
function held(app: App): string[] {
  const out: string[] = [];
  for (const [name, c] of app.clusters.clusters) {
    for (const o of c.objects.values()) if (o.metadata.labels?.[LABEL_LINK] === 'mysql') out.push(`${name} ${o.kind} ${o.metadata.namespace}/${o.metadata.name}`);
    for (const s of c.services.values()) for (const p of s.ports) if (p.name === objectNames('mysql').ingressServicePort) out.push(`${name} Service ${s.namespace}/${s.name} port ${p.port}`);
  }
  return out.sort();
}

/** The link's claims on its gateway port and host, as ids (a partner's side holds none: none here). */
function claimIdsOf(app: App, input: unknown): string[] {
  const spec = parseLinkSpec(input);
  if ('external' in spec.server || 'external' in spec.client) throw new Error('a spec of two clusters');
  const prefix = app.deps.settings.secretPrefix;
  return [portClaimId(prefix, { cluster: spec.server.cluster, port: spec.server.gatewayPort }), hostClaimId(prefix, { cluster: spec.client.cluster, host: spec.host })];
}

/** The writes of a whole create: crashing after one fewer stops it just before its record. */
async function createWrites(backend: ClaimBackend): Promise<number> {
  const probe = await crashingApp(backend);
  probe.plan.arm(undefined);
  await applyLink(probe.deps, specInput());
  return probe.plan.writes;
}

const RESPECS: { case: string; changes: Record<string, unknown> }[] = [
  { case: 'another server cluster', changes: { 'server.cluster': 'server-cluster-2' } },
  { case: 'another gateway port', changes: { 'server.gatewayPort': 13307 } },
  { case: 'another client cluster', changes: { 'client.cluster': 'client-cluster-2' } },
  { case: 'another host', changes: { host: 'other.link.example.com' } },
];

describe.each(CLAIM_BACKENDS)('a create stopped before its record, POSTed again with another spec, claims in %s', (backend) => {
  const respec = (changes: Record<string, unknown>) => Object.entries(changes).reduce((spec, [path, value]) => withField(spec, path, value), specInput());

  it.each(RESPECS)('$case: the first attempt\'s places hold nothing of the link, its old claims are given up', async ({ changes }) => {
    const app = await crashingApp(backend);
    expect(await createCrashingAt(app, (await createWrites(backend)) - 1)).toBe(true);
    expect(await loadLink(app.deps, 'mysql')).toBeUndefined();
    app.clock.advance(app.deps.settings.leaseMs + 1);

    const { status } = await applyLink(app.deps, respec(changes));

    const fresh = await crashingApp(backend);
    await applyLink(fresh.deps, respec(changes));
    expect(held(app)).toEqual(held(fresh));
    expect([status.client.sync.status, status.server.sync.status]).toEqual(['synced', 'synced']);
    expect((await loadLink(app.deps, 'mysql'))!.state.stale).toBeUndefined();
    const [now, before] = [claimIdsOf(app, respec(changes)), claimIdsOf(app, specInput())];
    for (const id of now) expect(await app.claims.holderOf(id)).toBe('mysql');
    for (const id of before.filter((id) => !now.includes(id))) expect(await app.claims.holderOf(id), id).toBeUndefined();
  });

  // Once its record is saved, a crash before the old claims go leaves them as an update's crash
  // does: counting for no one (port-claim.ts holds), taken over by the next link that needs them.
  it('stopped again before its record, after any write of the second POST: DELETE of the name removes both attempts\' objects and claims', async () => {
    const first = (await createWrites(backend)) - 1;
    for (let n = 1; ; n++) {
      const app = await crashingApp(backend);
      await createCrashingAt(app, first);
      app.clock.advance(app.deps.settings.leaseMs + 1);
      await createCrashingAt(app, n, respec(RESPECS[0]!.changes));
      if (await loadLink(app.deps, 'mysql')) break;
      app.clock.advance(app.deps.settings.leaseMs + 1);
      await deleteLink(app.deps, 'mysql');
      expect(await leftOf(app), `second POST crashed after write ${n}`).toEqual([]);
      expect(n).toBeLessThan(50);
    }
  });
});
