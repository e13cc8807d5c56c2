// Invariant 6 through the use-cases: a name another link's object holds is a 409 naming it, with
// nothing stored or written; links made under the former names move to the new ones on their next
// reconcile (new objects first, then the old ones removed by label) with traffic flowing throughout.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { handleApiRequest } from '../../functions/http-api.js';
import { applyLink, syncSides } from '../../shared/app/provision.js';
import { parseLinkSpec } from '../../shared/link/spec.js';
import { loadLink } from '../../shared/app/link-record.js';
import type { KubeObject } from '../../shared/clusters/port.js';
import { credentialName, formerObjectNames, LABEL_LINK, objectLabels, objectNames } from '../../shared/link/names.js';
import { withRevision } from '../../shared/mesh/revision.js';
import { storeWrites, testApp, type TestApp } from '../support/app.js';
import { specInput } from '../support/builders.js';
import { roundTrip, secretFromCluster, startDataPlane, type DataPlane } from '../support/dataplane.js';
import { unavailable, type MemoryCluster } from '../support/memory-clusters.js';

const NS = 'istio-system';
const A = 'cluster-a';
const B = 'cluster-b';

/** Link `name` from a client cluster to a server cluster, each side in istio-system. */
function spec(name: string, client: string, server: string, gatewayPort: number) {
  const base = specInput({}, name);
  return { ...base, client: { ...base.client, cluster: client }, server: { ...base.server, cluster: server, gatewayPort } };
}

function post(app: TestApp, body: unknown) {
  return handleApiRequest(app.deps, { method: 'POST', path: '/links', contentType: 'application/json', body: Buffer.from(JSON.stringify(body)) });
}

/**
 * Puts a synced link's client side back as an earlier meshlink left it: its egress Gateway under
 * the former name, the VirtualService naming that one, and the side's record from then.
 */
async function asBeforeRename(app: TestApp, link: string, client: string): Promise<string> {
  const cluster = app.clusters.target(client);
  const [former] = formerObjectNames(link);
  const gateway = cluster.get('Gateway', NS, objectNames(link).egressGateway)!;
  const vs = cluster.get('VirtualService', NS, objectNames(link).egressVirtualService)!;
  const rename = (names: string[]) => names.map((n) => (n === gateway.metadata.name ? former!.name : n));
  const strip = (o: KubeObject): KubeObject => ({ ...o, metadata: { ...o.metadata, annotations: {} } });
  const oldVs = structuredClone(vs) as KubeObject & { spec: { gateways: string[]; tcp: { match: { gateways: string[] }[] }[] } };
  oldVs.spec.gateways = rename(oldVs.spec.gateways);
  for (const route of oldVs.spec.tcp) for (const m of route.match) m.gateways = rename(m.gateways);
  cluster.objects.delete(`Gateway/${NS}/${gateway.metadata.name}`);
  cluster.objects.set(`Gateway/${NS}/${former!.name}`, withRevision(strip({ ...gateway, metadata: { ...gateway.metadata, name: former!.name } })));
  cluster.objects.set(`VirtualService/${NS}/${vs.metadata.name}`, withRevision(strip(oldVs)));
  const record = (await loadLink(app.deps, link))!;
  record.state = { ...record.state, sync: { ...record.state.sync, client: { ...record.state.sync.client, objects: 'before-rename' } } };
  await record.save();
  return former!.name;
}

/** Kind/name of every object in a cluster's namespace labelled for `link`. */
function objectsOf(cluster: MemoryCluster, link: string): string[] {
  return [...cluster.objects.values()].filter((o) => o.metadata.labels?.[LABEL_LINK] === link).map((o) => `${o.kind}/${o.metadata.name}`).sort();
}

const planes: DataPlane[] = [];
afterEach(async () => {
  await Promise.all(planes.splice(0).map((p) => p.close()));
});

describe('owned names (invariant 6)', () => {
  it('refuses with a 409 naming the object a link would take from another, storing and writing nothing; the other link, once moved to the new names, frees it', async () => {
    const app = testApp();
    // `x-ingress` made under the former names: its egress Gateway `istio-egressgateway-x-ingress` on A.
    await applyLink(app.deps, spec('x-ingress', A, B, 13306));
    const formerName = await asBeforeRename(app, 'x-ingress', A);
    expect(formerName).toBe('istio-egressgateway-x-ingress');
    const before = { store: storeWrites(app.store), clusters: app.clusters.totalWrites, taken: structuredClone(app.clusters.target(A).get('Gateway', NS, formerName)) };

    // `istio-egressgateway-x`, server on A: its ingress Gateway is `istio-egressgateway-x-ingress`.
    const refused = await post(app, spec('istio-egressgateway-x', B, A, 13307));

    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      details: [{ path: 'name', message: `Gateway ${NS}/istio-egressgateway-x-ingress on cluster ${A} belongs to link x-ingress` }],
    });
    expect({ store: storeWrites(app.store), clusters: app.clusters.totalWrites, taken: app.clusters.target(A).get('Gateway', NS, formerName) }).toEqual(before);
    expect(await loadLink(app.deps, 'istio-egressgateway-x')).toBeUndefined();

    // Its next reconcile moves `x-ingress` to the new names and removes the former one.
    expect((await post(app, spec('x-ingress', A, B, 13306))).status).toBe(200);
    expect(app.clusters.target(A).get('Gateway', NS, formerName)).toBeUndefined();
    expect(app.clusters.target(A).get('Gateway', NS, objectNames('x-ingress').egressGateway)).toBeDefined();

    const created = await post(app, spec('istio-egressgateway-x', B, A, 13307));
    expect(created.status).toBe(201);
    expect(app.clusters.target(A).get('Gateway', NS, formerName)?.metadata.labels).toEqual(objectLabels('istio-egressgateway-x', 'server'));
  });

  it('refuses an object labelled for another link by hand, at every apply: 409 on POST, a side in error on a reconcile, the object untouched', async () => {
    const app = testApp();
    await applyLink(app.deps, spec('mysql', A, B, 13306));
    const server = app.clusters.target(B);
    const name = objectNames('mysql').ingressGateway;
    const hijacked = { ...server.get('Gateway', NS, name)!, metadata: { name, namespace: NS, labels: objectLabels('orders', 'server') } };
    server.objects.set(`Gateway/${NS}/${name}`, structuredClone(hijacked));

    const res = await post(app, spec('mysql', A, B, 13306));
    expect(res.status).toBe(409);
    expect((res.body as { details: { message: string }[] }).details[0]!.message).toBe(`Gateway ${NS}/${name} on cluster ${B} belongs to link orders`);

    // A reconcile that does not pass the HTTP check (a sweep, a registration): the adapter refuses.
    const record = (await loadLink(app.deps, 'mysql'))!;
    const state = await syncSides(app.deps, parseLinkSpec(spec('mysql', A, B, 13306)), { ...record.state, sync: { ...record.state.sync, server: { status: 'pending' } } });
    expect(state.sync.server).toMatchObject({ status: 'error', error: expect.stringContaining('belongs to link orders') });
    expect(server.get('Gateway', NS, name)).toEqual(hijacked);
  });

  it('finishes a move whose removal failed (a crash or a cluster gone after the apply) on the next reconcile', async () => {
    const app = testApp();
    await applyLink(app.deps, spec('mysql', A, B, 13306));
    const formerName = await asBeforeRename(app, 'mysql', A);
    const client = app.clusters.target(A);
    const deleteByLabel = client.deleteByLabel.bind(client);
    client.deleteByLabel = async () => {
      throw unavailable(A);
    };

    await post(app, spec('mysql', A, B, 13306));
    expect(client.get('Gateway', NS, objectNames('mysql').egressGateway)).toBeDefined();
    expect(client.get('Gateway', NS, formerName)).toBeDefined();

    client.deleteByLabel = deleteByLabel;
    const res = await post(app, spec('mysql', A, B, 13306));
    expect(res.body).toMatchObject({ client: { sync: { status: 'synced' } } });
    expect(client.get('Gateway', NS, formerName)).toBeUndefined();
  });

  it('moves a link made under the former names on its next reconcile: new objects, then the old ones by label, traffic flowing and every route on a live Gateway at each write', async () => {
    // Real time: the TLS stack checks validity against the system clock.
    const app = testApp({ start: new Date().toISOString() });
    await applyLink(app.deps, spec('mysql', A, B, 13306));
    const formerName = await asBeforeRename(app, 'mysql', A);
    const client = app.clusters.target(A);

    const dp = await startDataPlane({
      host: 'mysql.link.example.com',
      link: 'mysql',
      clientSecret: secretFromCluster(client, NS, credentialName('mysql', 'client')),
      serverSecret: secretFromCluster(app.clusters.target(B), NS, credentialName('mysql', 'server')),
    });
    planes.push(dp);
    const payload = randomBytes(64);
    expect((await roundTrip(dp.egressPort, payload)).equals(payload)).toBe(true);

    // After every write to the client cluster: the VirtualService's gateways all exist, and the
    // originating DestinationRule's Secret is there. A removal before the apply breaks the first.
    const broken: string[] = [];
    const writes: string[] = [];
    const check = () => {
      const vs = client.get('VirtualService', NS, objectNames('mysql').egressVirtualService) as { spec: { gateways: string[] } } | undefined;
      for (const g of vs?.spec.gateways ?? []) if (g !== 'mesh' && !client.get('Gateway', NS, g)) broken.push(`after ${writes.at(-1)}: no Gateway ${g}`);
      if (!client.get('Secret', NS, credentialName('mysql', 'client'))) broken.push(`after ${writes.at(-1)}: no client Secret`);
    };
    const set = client.objects.set.bind(client.objects);
    const del = client.objects.delete.bind(client.objects);
    client.objects.set = (k, v) => (writes.push(`set ${k}`), set(k, v), check(), client.objects);
    client.objects.delete = (k) => (writes.push(`delete ${k}`), ((r) => (check(), r))(del(k)));

    expect((await post(app, spec('mysql', A, B, 13306))).status).toBe(200);

    expect(broken).toEqual([]);
    expect(writes).toEqual([
      `set Gateway/${NS}/${objectNames('mysql').egressGateway}`,
      `set VirtualService/${NS}/${objectNames('mysql').egressVirtualService}`,
      `delete Gateway/${NS}/${formerName}`,
    ]);
    expect(objectsOf(client, 'mysql')).toEqual(
      ['DestinationRule/egressgateway-for-mysql', 'DestinationRule/originate-mtls-for-mysql', 'Gateway/mysql-egress', 'Secret/meshlink-mysql-client', 'ServiceEntry/mysql-external', 'VirtualService/mysql-through-egress'],
    );
    expect((await roundTrip(dp.egressPort, payload)).equals(payload)).toBe(true);
    expect(dp.stats.handshakeFailures).toBe(0);
    expect(dp.stats.failures).toEqual([]);

    // Moved: the next reconcile finds the side current and lists nothing more.
    const writesBefore = app.clusters.totalWrites;
    expect((await post(app, spec('mysql', A, B, 13306))).status).toBe(200);
    expect(app.clusters.totalWrites).toBe(writesBefore);
  });
});
