// The create-link flow end to end through the real client libraries against wire-level fakes:
// @google-cloud/secret-manager against a local gRPC Secret Manager, @kubernetes/client-node
// against two local Kubernetes API servers over TLS with bearer tokens (one reached as a GKE
// cluster through getCluster, one through a kubeconfig context); the claims kept as secrets, then
// in a bucket through @google-cloud/storage against a local Cloud Storage JSON API.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppDeps } from '../../shared/app/deps.js';
import { CloudStorageClaims } from '../../shared/store/claims/cloud-storage-claims.js';
import { SecretManagerStore } from '../../shared/store/secret-manager-store.js';
import { startFakeCloudStorage, type FakeCloudStorage } from '../fakes/cloud-storage-server.js';
import { startFakeKubeApi, type FakeKubeApi } from '../fakes/kube-api-server.js';
import { startFakeSecretManager, type FakeSecretManager } from '../fakes/secret-manager-server.js';
import { STORE_LABEL_LINK, STORE_LABEL_ROLE } from '../../shared/link/names.js';
import { specInput } from '../support/builders.js';
import { CLAIM_BACKENDS, CLAIMS_BUCKET } from '../support/claim-backends.js';
import { deleteLink, fakesDeps, gkeClusterOf, kubeWrites, MYSQL_CLIENT_OBJECTS, postLink, tearDown } from '../support/fakes-deps.js';

const SERVER_REF = 'projects/acme/locations/europe-west1/clusters/db-cluster';
const CLIENT_REF = 'kubeconfig:app-cluster';

function kubeconfig(fake: FakeKubeApi): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'app', cluster: { server: fake.url, 'certificate-authority-data': Buffer.from(fake.caPem).toString('base64') } }],
    users: [{ name: 'meshlink', user: { token: fake.token } }],
    contexts: [{ name: 'app-cluster', context: { cluster: 'app', user: 'meshlink' } }],
    'current-context': 'app-cluster',
  });
}

describe.each(CLAIM_BACKENDS)('create, re-apply and delete a link through the real clients and wire-level fakes, claims in %s', (backend) => {
  const inBucket = backend === 'a Cloud Storage bucket';
  let sm: FakeSecretManager;
  let gcs: FakeCloudStorage | undefined;
  let serverApi: FakeKubeApi;
  let clientApi: FakeKubeApi;
  let store: SecretManagerStore;
  let deps: AppDeps;
  let dir: string;

  beforeAll(async () => {
    [sm, serverApi, clientApi] = await Promise.all([startFakeSecretManager(), startFakeKubeApi(), startFakeKubeApi()]);
    serverApi.seedService('istio-system', 'istio-ingressgateway', [{ name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' }], '203.0.113.10');
    clientApi.seedService('istio-system', 'istio-egressgateway', [{ name: 'http2', port: 80, targetPort: 8080, protocol: 'TCP' }]);
    dir = mkdtempSync(join(tmpdir(), 'meshlink-fakes-'));
    const kubeconfigFile = join(dir, 'kubeconfig.json');
    writeFileSync(kubeconfigFile, kubeconfig(clientApi));
    store = new SecretManagerStore({ project: sm.project, apiEndpoint: '127.0.0.1', port: sm.port, plaintext: true });
    deps = fakesDeps(store, dir, {
      kubeconfigFile,
      getAccessToken: async () => serverApi.token,
      getCluster: async (name) => {
        expect(name).toBe(SERVER_REF);
        return gkeClusterOf(serverApi);
      },
    }, 'fakes-test');
    if (inBucket) {
      gcs = await startFakeCloudStorage({ buckets: [CLAIMS_BUCKET] });
      deps.claims = new CloudStorageClaims({ bucket: CLAIMS_BUCKET, apiEndpoint: gcs.url });
    }
  });

  afterAll(() => tearDown(store, [sm, serverApi, clientApi, ...(gcs ? [gcs] : [])], dir));

  /** The claims held, as (claim kind, link) pairs: in the bucket, or as claim secrets. */
  const claimsHeld = async () => {
    const labelled = inBucket
      ? [...gcs!.objects(CLAIMS_BUCKET).values()].map((o) => o.metadata)
      : (await store.listSecrets({ labels: {} })).secrets.map((m) => m.labels).filter((l) => l[STORE_LABEL_ROLE]?.endsWith('-claim'));
    return labelled.map((l) => `${l[STORE_LABEL_ROLE]} ${l[STORE_LABEL_LINK]}`).sort();
  };

  const spec = specInput({ client: { cluster: CLIENT_REF, port: 3306 }, server: { cluster: SERVER_REF, service: 'mysql.default.svc.cluster.local', port: 3306 } });
  const post = () => postLink(deps, spec);
  const writes = kubeWrites;

  it('creates the link: secrets in Secret Manager, objects and Secrets in both clusters, ports added', async () => {
    const res = await post();
    expect(res.status).toBe(201);
    const body = res.body as any;
    expect(body.server.sync.status).toBe('synced');
    expect(body.client.sync.status).toBe('synced');
    expect(body.server.address).toBe('203.0.113.10'); // read from the ingress gateway Service
    // link, ca, server, client; the gateway port and host claims too without a bucket
    expect(sm.calls['CreateSecret']).toBe(inBucket ? 4 : 6);
    expect(await claimsHeld()).toEqual(['host-claim mysql', 'port-claim mysql']);

    const kinds = (api: FakeKubeApi) => api.objects().map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds(serverApi)).toEqual(['Gateway/mysql-ingress', 'Secret/meshlink-mysql-server', 'Service/istio-ingressgateway', 'VirtualService/mysql-ingress']);
    expect(kinds(clientApi)).toEqual(MYSQL_CLIENT_OBJECTS);
    const ingress = serverApi.objects().find((o) => o.kind === 'Service')! as any;
    expect(ingress.spec.ports.map((p: any) => p.port)).toEqual([443, 13306]); // kept, then added
    const entry = clientApi.objects().find((o) => o.kind === 'ServiceEntry')! as any;
    expect(entry.spec.resolution).toBe('STATIC');
    expect(entry.spec.endpoints[0].address).toBe('203.0.113.10');
    const secret = clientApi.objects().find((o) => o.kind === 'Secret')! as any;
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(secret.metadata.labels['meshlink.io/link']).toBe('mysql');
  });

  it('re-applies the unchanged spec with no write to any cluster and none to the store', async () => {
    const before = { server: writes(serverApi), client: writes(clientApi), sm: { ...sm.calls } };
    const res = await post();
    expect(res.status).toBe(200);
    expect(writes(serverApi)).toBe(before.server);
    expect(writes(clientApi)).toBe(before.client);
    for (const rpc of ['CreateSecret', 'AddSecretVersion', 'UpdateSecret', 'DeleteSecret']) expect(sm.calls[rpc] ?? 0).toBe(before.sm[rpc] ?? 0);
  });

  it('heals drift: an object changed in the cluster is applied again', async () => {
    serverApi.mutate('istio-system', 'gateways', 'mysql-ingress', (o) => {
      o.metadata.annotations = { ...o.metadata.annotations, 'meshlink.io/revision': 'tampered' };
    });
    const res = await post();
    expect(res.status).toBe(200);
    const gateway = serverApi.objects().find((o) => o.kind === 'Gateway')!;
    expect(gateway.metadata.annotations?.['meshlink.io/revision']).not.toBe('tampered');
  });

  it('refuses to overwrite an object labelled for another link: 409 naming it, no write to a cluster or the store', async () => {
    const relabel = (link: string) =>
      serverApi.mutate('istio-system', 'gateways', 'mysql-ingress', (o) => {
        o.metadata.labels = { ...o.metadata.labels, 'meshlink.io/link': link };
      });
    relabel('orders');
    const before = { server: writes(serverApi), client: writes(clientApi), sm: { ...sm.calls } };

    const res = await post();

    expect(res.status).toBe(409);
    expect((res.body as any).details).toEqual([{ path: 'name', message: `Gateway istio-system/mysql-ingress on cluster ${SERVER_REF} belongs to link orders` }]);
    expect(writes(serverApi)).toBe(before.server);
    expect(writes(clientApi)).toBe(before.client);
    for (const rpc of ['CreateSecret', 'AddSecretVersion', 'UpdateSecret', 'DeleteSecret']) expect(sm.calls[rpc] ?? 0).toBe(before.sm[rpc] ?? 0);
    relabel('mysql');
  });

  it('moves the server side: its port on the same Service, then to another namespace and back, leaving nothing behind', async () => {
    serverApi.seedService('ingress', 'istio-ingressgateway', [{ name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' }], '203.0.113.10');
    const held = () =>
      serverApi
        .objects()
        .map((o: any) => (o.kind === 'Service' ? `${o.metadata.namespace} ports ${o.spec.ports.map((p: any) => `${p.name}:${p.port}`).join(',')}` : `${o.metadata.namespace} ${o.kind}/${o.metadata.name}`))
        .sort();
    const objects = (ns: string) => [`${ns} Gateway/mysql-ingress`, `${ns} Secret/meshlink-mysql-server`, `${ns} VirtualService/mysql-ingress`];
    const moves = [
      { server: { gatewayPort: 13307 }, want: [...objects('istio-system'), 'ingress ports https:443', 'istio-system ports https:443,tls-mysql:13307'] },
      { server: { gatewayPort: 13307, gateway: { namespace: 'ingress' } }, want: [...objects('ingress'), 'ingress ports https:443,tls-mysql:13307', 'istio-system ports https:443'] },
      // Named: a namespace left out would be kept (no gateway pods to discover here).
      { server: { gateway: { namespace: 'istio-system' } }, want: [...objects('istio-system'), 'ingress ports https:443', 'istio-system ports https:443,tls-mysql:13306'] },
    ];
    for (const move of moves) {
      const res = await postLink(deps, { ...spec, server: { ...spec.server, ...move.server } });
      expect(res.status).toBe(200);
      expect([(res.body as any).server.sync.status, (res.body as any).client.sync.status]).toEqual(['synced', 'synced']);
      expect(held()).toEqual([...move.want].sort());
    }
    expect(await claimsHeld()).toEqual(['host-claim mysql', 'port-claim mysql']); // the ports left given back
  });

  it('deletes the link: objects and port gone from the clusters, secrets gone from the store', async () => {
    const res = await deleteLink(deps, 'mysql');
    expect(res.status).toBe(204);
    expect(serverApi.objects().map((o) => o.kind)).toEqual(['Service', 'Service']); // the one seeded by the move test too
    expect(clientApi.objects().map((o) => o.kind)).toEqual(['Service']);
    const ingress = serverApi.objects().find((o) => o.metadata.namespace === 'istio-system') as any;
    expect(ingress.spec.ports.map((p: any) => p.port)).toEqual([443]);
    expect((await store.listSecrets({ labels: {} })).secrets).toEqual([]);
    expect(await claimsHeld()).toEqual([]);
  });
});
