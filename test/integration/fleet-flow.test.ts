// A link between a fleet member reached through the Connect gateway and a GKE cluster, end to end
// through the real clients: @kubernetes/client-node talks to a fake API server that serves under
// the gateway's /v1/projects/NUMBER/locations/global/memberships/M path (at the configured
// endpoint), with gateway namespaces discovered from the pods on both clusters.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppDeps } from '../../shared/app/deps.js';
import { SecretManagerStore } from '../../shared/store/secret-manager-store.js';
import { opensslAvailable, startFakeKubeApi, type FakeKubeApi } from '../fakes/kube-api-server.js';
import { startFakeSecretManager, type FakeSecretManager } from '../fakes/secret-manager-server.js';
import { specInput } from '../support/builders.js';
import { deleteLink, fakesDeps, gkeClusterOf, kubeWrites, MYSQL_CLIENT_OBJECTS, postLink, tearDown } from '../support/fakes-deps.js';

const FLEET_REF = 'projects/acme-fleet/locations/global/memberships/edge';
const GATEWAY_PATH = '/v1/projects/424242/locations/global/memberships/edge'; // the project id as its number
const GKE_REF = 'projects/acme/locations/europe-west1/clusters/db-cluster';
const EGRESS_NS = 'edge-gateways';
const INGRESS_NS = 'istio-ingress';

describe.skipIf(!(await opensslAvailable()))('a link between a fleet member (Connect gateway) and a GKE cluster', () => {
  let sm: FakeSecretManager;
  let gateway: FakeKubeApi; // the fleet member, behind the Connect gateway path
  let gke: FakeKubeApi;
  let store: SecretManagerStore;
  let deps: AppDeps;
  let dir: string;

  beforeAll(async () => {
    const token = randomBytes(16).toString('hex'); // one Google access token opens both
    [sm, gateway, gke] = await Promise.all([startFakeSecretManager(), startFakeKubeApi({ pathPrefix: GATEWAY_PATH, token }), startFakeKubeApi({ token })]);
    gateway.seedService(EGRESS_NS, 'istio-egressgateway', [{ name: 'http2', port: 80, targetPort: 8080, protocol: 'TCP' }]);
    gateway.seedPod(EGRESS_NS, 'istio-egressgateway-7d9f-abcde', { istio: 'egressgateway', app: 'istio-egressgateway' });
    gateway.seedPod('istio-system', 'istio-egressgateway-old-xyz', { istio: 'egressgateway' }, 'Succeeded'); // an old install's leftover
    gke.seedService(INGRESS_NS, 'istio-ingressgateway', [{ name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' }], '203.0.113.20');
    gke.seedPod(INGRESS_NS, 'istio-ingressgateway-5c7b-fghij', { istio: 'ingressgateway' });
    dir = mkdtempSync(join(tmpdir(), 'meshlink-fleet-'));
    store = new SecretManagerStore({ project: sm.project, apiEndpoint: '127.0.0.1', port: sm.port, plaintext: true });
    deps = fakesDeps(store, dir, {
      getAccessToken: async () => token,
      getCluster: async (name) => {
        expect(name).toBe(GKE_REF);
        return gkeClusterOf(gke);
      },
      connectGateway: { endpoint: gateway.origin, caPem: gateway.caPem, projectNumbers: { 'acme-fleet': '424242' } },
    }, 'fleet-test');
  });

  afterAll(() => tearDown(store, [sm, gateway, gke], dir));

  const spec = specInput({ client: { cluster: FLEET_REF, port: 3306 }, server: { cluster: GKE_REF, service: 'mysql.default.svc.cluster.local', port: 3306 } });
  const post = () => postLink(deps, spec);
  const writes = kubeWrites;
  const kinds = (api: FakeKubeApi, namespace: string) =>
    api.objects().filter((o) => o.metadata.namespace === namespace && o.kind !== 'Pod').map((o) => `${o.kind}/${o.metadata.name}`).sort();

  it('creates the link in the namespaces the gateway pods run in, through the Connect gateway path', async () => {
    const res = await post();
    expect(res.status).toBe(201);
    const body = res.body as any;
    expect(body.client).toMatchObject({ cluster: FLEET_REF, namespace: EGRESS_NS, sync: { status: 'synced' } });
    expect(body.server).toMatchObject({ cluster: GKE_REF, namespace: INGRESS_NS, sync: { status: 'synced' }, address: '203.0.113.20' });
    expect(body.spec.client.gateway.namespace).toBe(EGRESS_NS);
    expect(body.spec.server.gateway.namespace).toBe(INGRESS_NS);

    expect(kinds(gateway, EGRESS_NS)).toEqual(MYSQL_CLIENT_OBJECTS);
    expect(kinds(gke, INGRESS_NS)).toEqual(['Gateway/mysql-ingress', 'Secret/meshlink-mysql-server', 'Service/istio-ingressgateway', 'VirtualService/mysql-ingress']);
    const egress = gateway.objects().find((o) => o.kind === 'Service')! as any;
    expect(egress.spec.ports.map((p: any) => p.port)).toEqual([80, 15443]);
    // Every request reached the API through the gateway path: none fell outside it (404).
    expect(gateway.requests.length).toBeGreaterThan(0);
    expect(gateway.requests.filter((r) => r.outside)).toEqual([]);
    expect(gateway.requests).toContainEqual(expect.objectContaining({ method: 'GET', path: '/api/v1/pods', query: expect.objectContaining({ labelSelector: 'istio=egressgateway' }) }));
  });

  it('re-applies the unchanged spec with no write to either cluster or the store', async () => {
    const before = { gateway: writes(gateway), gke: writes(gke), sm: { ...sm.calls } };
    const res = await post();
    expect(res.status).toBe(200);
    expect((res.body as any).client.namespace).toBe(EGRESS_NS);
    expect(writes(gateway)).toBe(before.gateway);
    expect(writes(gke)).toBe(before.gke);
    for (const rpc of ['CreateSecret', 'AddSecretVersion', 'UpdateSecret', 'DeleteSecret']) expect(sm.calls[rpc] ?? 0).toBe(before.sm[rpc] ?? 0);
  });

  it('deletes the link from both clusters and the store', async () => {
    const res = await deleteLink(deps, 'mysql');
    expect(res.status).toBe(204);
    expect(kinds(gateway, EGRESS_NS)).toEqual(['Service/istio-egressgateway']);
    expect(kinds(gke, INGRESS_NS)).toEqual(['Service/istio-ingressgateway']);
    expect((gke.objects().find((o) => o.kind === 'Service') as any).spec.ports.map((p: any) => p.port)).toEqual([443]);
    expect((await store.listSecrets({ labels: {} })).secrets).toEqual([]);
  });
});
