// Updating a link to other places (gateway namespace, cluster, ingress Service or port, Istio API
// version): the clusters end up holding exactly what a fresh apply of the new spec gives, the old
// places are cleared only once the new ones are synced, and a crash or a failing cluster leaves
// the clean-up recorded for the next apply, the sweep, the old cluster's registration, or a delete.
import { describe, expect, it } from 'vitest';
import { deleteLink } from '../../shared/app/delete.js';
import { loadLink } from '../../shared/app/link-record.js';
import { applyLink } from '../../shared/app/provision.js';
import { registerCluster } from '../../shared/app/register.js';
import { InProcessRotationQueue } from '../../shared/queue/in-process-rotation-queue.js';
import { sweep } from '../../shared/app/sweep.js';
import { getLink } from '../../shared/app/queries.js';
import { credentialName, LABEL_LINK, objectNames } from '../../shared/link/names.js';
import type { LinkState } from '../../shared/link/state.js';
import { CountingClusters } from '../bench/counting-clusters.js';
import { specInput, withField } from '../support/builders.js';
import { storeWrites, testApp, type TestApp } from '../support/app.js';
import { SimulatedCrash } from '../support/crash.js';
import { synced } from '../support/crash-scenarios.js';
import { unavailable, type MemoryClusters } from '../support/memory-clusters.js';
import { rotationApp } from '../support/rotation-app.js';

type Spec = ReturnType<typeof specInput>;

/** Namespaces named, so that no discovery is involved; an address, so the client never waits for one. */
const BEFORE: Spec = specInput({
  client: { cluster: 'client-cluster', port: 3306, gateway: { namespace: 'istio-system' } },
  server: { cluster: 'server-cluster', service: 'mysql.default.svc.cluster.local', port: 3306, address: '203.0.113.7', gateway: { namespace: 'istio-system' } },
});

function moved(changes: Record<string, unknown>, from: Spec = BEFORE): Spec {
  return Object.entries(changes).reduce((spec, [path, value]) => withField(spec, path, value), from);
}

/** Everything of the link's in the clusters: objects (with their API version) and its ingress Service ports. */
function held(clusters: MemoryClusters): string[] {
  const out: string[] = [];
  for (const [name, c] of clusters.clusters) {
    for (const o of c.objects.values()) {
      if (o.metadata.labels?.[LABEL_LINK] === 'mysql') out.push(`${name} ${o.apiVersion} ${o.kind} ${o.metadata.namespace}/${o.metadata.name}`);
    }
    for (const s of c.services.values()) {
      for (const p of s.ports) if (p.name === objectNames('mysql').ingressServicePort) out.push(`${name} Service ${s.namespace}/${s.name} port ${p.name}:${p.port}`);
    }
  }
  return out.sort();
}

/** What the clusters hold after applying `spec` to a new link on empty clusters. */
async function fresh(spec: unknown): Promise<string[]> {
  const app = testApp();
  await applyLink(app.deps, spec);
  return held(app.clusters);
}

/** The egress Service ports (shared by every link through a gateway: never removed). */
function egressPorts(clusters: MemoryClusters): string[] {
  return [...clusters.clusters.values()].flatMap((c) => [...c.services.values()].flatMap((s) => s.ports.filter((p) => p.name.startsWith('tls-meshlink-')).map((p) => `${c.cluster} ${s.namespace}/${s.name} ${p.name}`)));
}

async function stateOf(app: TestApp): Promise<LinkState> {
  return (await loadLink(app.deps, 'mysql'))!.state;
}

const MOVES: { case: string; changes: Record<string, unknown> }[] = [
  { case: 'client gateway namespace', changes: { 'client.gateway.namespace': 'egress' } },
  { case: 'server gateway namespace', changes: { 'server.gateway.namespace': 'ingress' } },
  { case: 'client cluster', changes: { 'client.cluster': 'client-cluster-2' } },
  { case: 'server cluster', changes: { 'server.cluster': 'server-cluster-2' } },
  { case: 'server gateway Service', changes: { 'server.gateway.service': 'other-ingressgateway' } },
  { case: 'server gateway port (same Service: the port moves in place)', changes: { 'server.gatewayPort': 13307 } },
  { case: 'server gateway port and Service at once', changes: { 'server.gatewayPort': 13307, 'server.gateway.service': 'other-ingressgateway' } },
  { case: 'Istio API version (same objects in Kubernetes)', changes: { istioApiVersion: 'networking.istio.io/v1' } },
  { case: 'server namespace and Istio API version at once', changes: { 'server.gateway.namespace': 'ingress', istioApiVersion: 'networking.istio.io/v1' } },
  { case: 'both sides to other clusters and namespaces', changes: { 'client.cluster': 'client-cluster-2', 'client.gateway.namespace': 'egress', 'server.cluster': 'server-cluster-2', 'server.gateway.namespace': 'ingress' } },
];

describe('moving a link by updating its spec', () => {
  it.each(MOVES)('$case: the clusters hold what a fresh apply of the new spec gives, nothing of the old place', async ({ changes }) => {
    const app = testApp();
    await applyLink(app.deps, BEFORE);
    const before = held(app.clusters);
    const egress = egressPorts(app.clusters);

    const { status } = await applyLink(app.deps, moved(changes));

    const want = await fresh(moved(changes));
    expect(want).not.toEqual(before); // the case moves something
    expect(held(app.clusters)).toEqual(want);
    expect(egressPorts(app.clusters)).toEqual(expect.arrayContaining(egress));
    expect([status.client.sync.status, status.server.sync.status]).toEqual(['synced', 'synced']);
    expect((await stateOf(app)).stale).toBeUndefined();
  });

  it.each(MOVES)('$case: a re-apply afterwards writes nothing and calls the clusters as for a link never moved', async ({ changes }) => {
    const calls = async (first: Spec[]) => {
      const app = testApp();
      for (const spec of first) await applyLink(app.deps, spec);
      const counting = new CountingClusters(app.clusters);
      app.deps.clusters = counting;
      const writes = storeWrites(app.store);
      await applyLink(app.deps, moved(changes));
      return { store: storeWrites(app.store) - writes, clusters: counting.counts() };
    };

    const after = await calls([BEFORE, moved(changes)]);

    expect(after).toEqual(await calls([moved(changes)]));
    expect(after.store).toBe(0);
    expect(after.clusters.writes).toBe(0);
  });

  it('removes every old place only after every write to the new ones', async () => {
    const app = rotationApp();
    await applyLink(app.deps, BEFORE);
    app.plan.arm(undefined);

    await applyLink(app.deps, moved(MOVES.at(-1)!.changes));

    const log = app.plan.log.filter((l) => l.startsWith('cluster.'));
    const removals = log.map((l, i) => (/deleteByLabel|removeServicePorts/.test(l) ? i : -1)).filter((i) => i >= 0);
    const placements = log.map((l, i) => (/apply|ensureServicePorts/.test(l) ? i : -1)).filter((i) => i >= 0);
    expect(removals.length).toBeGreaterThanOrEqual(3); // two sides' objects and the ingress port
    expect(Math.min(...removals)).toBeGreaterThan(Math.max(...placements));
  });
});

/** A link moved by `changes` while `failing` did not answer (it answers again on return). */
async function movedWhileFailing(failing: string, changes: Record<string, unknown>) {
  const app = testApp();
  await applyLink(app.deps, BEFORE);
  const before = held(app.clusters);
  app.clusters.target(failing).failure = unavailable(failing);
  await applyLink(app.deps, moved(changes));
  const during = held(app.clusters);
  app.clusters.target(failing).failure = undefined;
  return { app, before, during, stale: (await stateOf(app)).stale };
}

const AWAY = { 'server.cluster': 'server-cluster-2', 'server.gateway.namespace': 'ingress' };

describe('a move whose clean-up cannot run at once', () => {
  it.each([
    { case: 'the new server cluster is not answering', changes: { 'server.cluster': 'server-cluster-2' }, failing: 'server-cluster-2' },
    // The client may still dial the old server place until it is synced itself.
    { case: 'the client cluster is not answering while the server moves', changes: { 'server.gateway.namespace': 'ingress' }, failing: 'client-cluster' },
    { case: 'the old server cluster is not answering', changes: { 'server.cluster': 'server-cluster-2' }, failing: 'server-cluster' },
  ])('$case: the old place stays recorded and the next apply clears it', async ({ changes, failing }) => {
    const { app, before, during, stale } = await movedWhileFailing(failing, changes);
    expect(during).toEqual(expect.arrayContaining(before));
    expect(stale?.length).toBeGreaterThan(0);
    expect((await getLink(app.deps, 'mysql')).pendingCleanup).toEqual(stale);

    await applyLink(app.deps, moved(changes));

    expect(held(app.clusters)).toEqual(await fresh(moved(changes)));
    expect((await stateOf(app)).stale).toBeUndefined();
    expect((await getLink(app.deps, 'mysql')).pendingCleanup).toBeUndefined();
  });

  it('moving back before the clean-up keeps the place moved back to', async () => {
    const { app } = await movedWhileFailing('server-cluster-2', AWAY);

    await applyLink(app.deps, BEFORE);

    expect(held(app.clusters)).toEqual(await fresh(BEFORE));
    expect((await stateOf(app)).stale).toBeUndefined();
  });

  it('a delete clears the places a move left as well', async () => {
    const { app, stale } = await movedWhileFailing('server-cluster', AWAY);
    expect(stale?.length).toBeGreaterThan(0);

    await deleteLink(app.deps, 'mysql');

    expect(held(app.clusters)).toEqual([]);
  });
});

describe('the old cluster not answering through a move, with both new sides synced', () => {
  it('the sweep retries the clean-up every syncRetryMs and finishes it once the cluster answers', async () => {
    const app = testApp();
    await applyLink(app.deps, BEFORE);
    app.clusters.target('server-cluster').failure = unavailable('server-cluster');
    await applyLink(app.deps, moved(AWAY));
    const state = await stateOf(app);
    expect([state.sync.server.status, state.sync.client.status]).toEqual(['synced', 'synced']);
    expect(state.stale?.map((p) => p.cluster)).toEqual(['server-cluster', 'server-cluster']);
    const queue = new InProcessRotationQueue(app.deps);
    const retry = app.deps.settings.syncRetryMs;

    expect((await sweep(app.deps, queue)).due).toEqual([]); // the apply tried just now
    app.clock.advance(retry);
    const failed = await sweep(app.deps, queue);
    expect(failed.due.map((d) => d.link)).toEqual(['mysql']);
    expect(failed.rotated).toEqual([expect.objectContaining({ steps: ['clear-stale-places'], error: expect.stringMatching(/could not clear 2 of 2 places/), next: expect.objectContaining({ reason: 'stale-retry' }) })]);
    expect((await stateOf(app)).staleFailedAt).toBe(app.clock().toISOString());

    app.clusters.target('server-cluster').failure = undefined;
    expect((await sweep(app.deps, queue)).due).toEqual([]); // not before syncRetryMs
    app.clock.advance(retry);
    const cleared = await sweep(app.deps, queue);

    expect(cleared.rotated).toEqual([expect.objectContaining({ steps: ['clear-stale-places'], outcome: 'rotated' })]);
    expect(cleared.rotated[0]!.error).toBeUndefined();
    expect(held(app.clusters)).toEqual(await fresh(moved(AWAY)));
    const after = await stateOf(app);
    expect([after.stale, after.staleFailedAt, after.lastError]).toEqual([undefined, undefined, undefined]);
    expect((await sweep(app.deps, queue)).due).toEqual([]);
  });

  it('the old cluster registering again clears what the link left there', async () => {
    const { app, stale } = await movedWhileFailing('server-cluster', AWAY);
    expect(stale?.length).toBeGreaterThan(0);

    const result = await registerCluster(app.deps, { kind: 'registered', aliases: ['server-cluster'], source: 'meshlink' });

    expect(result).toMatchObject({ links: ['mysql'], done: ['mysql'], failed: [] });
    expect(held(app.clusters)).toEqual(await fresh(moved(AWAY)));
    expect((await stateOf(app)).stale).toBeUndefined();
  });

  it('the old cluster registering while a new side is not synced leaves the place for later', async () => {
    const { app } = await movedWhileFailing('server-cluster', AWAY);
    const record = (await loadLink(app.deps, 'mysql'))!;
    record.state = { ...record.state, sync: { ...record.state.sync, client: { ...record.state.sync.client, status: 'error' } } };
    await record.save();

    await registerCluster(app.deps, { kind: 'registered', aliases: ['server-cluster'], source: 'meshlink' });

    expect((await stateOf(app)).stale?.length).toBeGreaterThan(0);
    expect(held(app.clusters).filter((h) => h.startsWith('server-cluster '))).not.toEqual([]);
  });
});

describe('deleting a moved link', () => {
  it('leaves what a cluster not answering holds to the sweep; a repeated DELETE tries again, and only a forced one gives it up (a cluster gone for good)', async () => {
    const { app, stale } = await movedWhileFailing('server-cluster', AWAY);
    expect(stale?.length).toBeGreaterThan(0);
    app.clusters.target('server-cluster').failure = unavailable('server-cluster');

    const first = await deleteLink(app.deps, 'mysql');
    expect(first.pending.map((p) => p.cluster)).toContain('server-cluster');
    await expect(getLink(app.deps, 'mysql')).rejects.toMatchObject({ code: 'not-found' });

    expect(await deleteLink(app.deps, 'mysql')).toEqual(first); // a retry after a timeout loses nothing
    expect(await loadLink(app.deps, 'mysql')).toBeDefined();

    const forced = await deleteLink(app.deps, 'mysql', { force: true });
    expect(forced).toEqual({ pending: [], abandoned: first.pending });
    expect(await loadLink(app.deps, 'mysql')).toBeUndefined();
    expect(app.log.lines.filter((l) => l.message === 'could not clear a place of the link').map((l) => l.cluster)).toContain('server-cluster');
  });

  it('does not delete again, by namespace, objects its cluster-wide deletes already took', async () => {
    // The server moved namespace while the client cluster was down: the old namespace is still recorded.
    const { app, stale } = await movedWhileFailing('client-cluster', { 'server.gateway.namespace': 'ingress' });
    expect(stale).toEqual(expect.arrayContaining([expect.objectContaining({ what: 'objects', side: 'server', cluster: 'server-cluster' })]));
    const counting = new CountingClusters(app.clusters);

    await deleteLink({ ...app.deps, clusters: counting }, 'mysql');

    expect(counting.calls.deleteByLabel).toBe(2); // one per side, cluster-wide
    expect(held(app.clusters)).toEqual([]);
  });
});

describe('a crash at every write of a move', async () => {
  const TO = moved(MOVES.at(-1)!.changes);
  const baseline = rotationApp();
  await applyLink(baseline.deps, BEFORE);
  baseline.plan.arm(undefined);
  await applyLink(baseline.deps, TO);
  const points = Array.from({ length: baseline.plan.writes }, (_, i) => i + 1);

  async function crashAt(n: number) {
    const app = rotationApp();
    await applyLink(app.deps, BEFORE);
    app.plan.arm(n);
    await applyLink(app.deps, TO).catch((err: unknown) => {
      if (!(err instanceof SimulatedCrash)) throw err;
    }); // the last write releases the lease, whose failure is logged, not thrown
    expect(app.plan.crashes).toBe(1);
    app.plan.restart();
    app.clock.advance(app.deps.settings.leaseMs + 1);
    return app;
  }

  it.each(points)('crash after write %i, then the same POST again: the new places only', async (n) => {
    const app = await crashAt(n);
    await applyLink(app.deps, TO);
    expect(held(app.clusters)).toEqual(await fresh(TO));
    expect((await app.state()).stale).toBeUndefined();
  });

  it.each(points)('crash after write %i, then the rotation sweep: the places of the stored spec only, in its first run', async (n) => {
    const app = await crashAt(n);
    // The sides of an updated spec are pending until synced with it: the link is due at once.
    expect(await app.drive((s) => !s.stale && synced(s))).toHaveLength(1);
    expect(held(app.clusters)).toEqual(await fresh((await getLink({ ...app.deps, store: app.store }, 'mysql')).spec));
    expect(app.violations).toEqual([]);
  });

  it.each(points)('crash after write %i, then the server cluster registers: the client side is never left without its objects', async (n) => {
    const app = await crashAt(n);
    await registerCluster(app.deps, { kind: 'registered', aliases: ['server-cluster-2'], source: 'meshlink' });
    const secrets = held(app.clusters).filter((h) => h.includes(` Secret `));
    expect(secrets.filter((h) => h.includes(credentialName('mysql', 'client')))).not.toEqual([]);
    expect(secrets.filter((h) => h.includes(credentialName('mysql', 'server')))).not.toEqual([]);
  });
});
