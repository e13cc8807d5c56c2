// The wiring the fakes-backed integration tests share: real adapters (Secret Manager client,
// Kubernetes client) over wire-level fakes, and the HTTP requests they make.
import { rmSync } from 'node:fs';
import { handleApiRequest } from '../../functions/http-api.js';
import { DEFAULT_SETTINGS, type AppDeps } from '../../shared/app/deps.js';
import { systemClock } from '../../shared/clock.js';
import { KubernetesClusterResolver } from '../../shared/clusters/resolver.js';
import { memoryLogger } from './log.js';
import type { SecretStore } from '../../shared/store/port.js';
import type { FakeKubeApi } from '../fakes/kube-api-server.js';

type ResolverOptions = ConstructorParameters<typeof KubernetesClusterResolver>[0];

/** App dependencies over a real store client and the real Kubernetes resolver. */
export function fakesDeps(store: SecretStore, stateDir: string, credentials: ResolverOptions['credentials'], workerId: string): AppDeps {
  return {
    store,
    clusters: new KubernetesClusterResolver({ stateDir, credentials }),
    clock: systemClock,
    log: memoryLogger(),
    settings: DEFAULT_SETTINGS,
    workerId,
  };
}

/** POST /links with a JSON spec, as the HTTP function receives it. */
export function postLink(deps: AppDeps, spec: unknown) {
  return handleApiRequest(deps, { method: 'POST', path: '/links', contentType: 'application/json', body: Buffer.from(JSON.stringify(spec)) });
}

/** DELETE /links/{name}. */
export function deleteLink(deps: AppDeps, name: string) {
  return handleApiRequest(deps, { method: 'DELETE', path: `/links/${name}`, body: Buffer.alloc(0) });
}

/** Requests to a fake API server that could have written something. */
export function kubeWrites(api: FakeKubeApi): number {
  return api.requests.filter((r) => r.method !== 'GET').length;
}

/** What the GKE API answers for a cluster served by a fake API server: its endpoint and CA. */
export function gkeClusterOf(api: FakeKubeApi) {
  return { endpoint: new URL(api.url).host, masterAuth: { clusterCaCertificate: Buffer.from(api.caPem).toString('base64') } };
}

/** Closes the store client, then the fake servers, then removes the state directory. */
export async function tearDown(store: { close(): Promise<void> } | undefined, servers: ({ close(): Promise<void> } | undefined)[], dir: string | undefined): Promise<void> {
  await store?.close();
  await Promise.all(servers.map((s) => s?.close()));
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** What the mysql link puts on the client cluster (kind/name, sorted), beside the egress Service. */
export const MYSQL_CLIENT_OBJECTS = [
  'DestinationRule/egressgateway-for-mysql',
  'DestinationRule/originate-mtls-for-mysql',
  'Gateway/mysql-egress',
  'Secret/meshlink-mysql-client',
  'Service/istio-egressgateway',
  'ServiceEntry/mysql-external',
  'VirtualService/mysql-through-egress',
];
