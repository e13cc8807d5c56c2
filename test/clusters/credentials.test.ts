// KubeConfig builders: GKE from a getCluster answer, fleet through the Connect gateway, kubeconfig contexts.
import type { RequestOptions } from 'node:https';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseClusterRef, type ClusterRef } from '../../shared/link/cluster-ref.js';
import { contextKubeConfig, fleetKubeConfig, gkeKubeConfig, kubeConfigSource, type GkeClusterInfo, type GkeEndpoint } from '../../shared/clusters/credentials.js';
import { KubernetesTarget } from '../../shared/clusters/kubernetes-target.js';
import { isMeshlinkError, type ErrorCode } from '../../shared/errors.js';
import { opensslAvailable, startFakeKubeApi, type FakeKubeApi } from '../fakes/kube-api-server.js';
import { ingressGateway } from './objects.js';

const GKE_REF = 'projects/acme/locations/europe-west1/clusters/server';
const gkeRef = parseClusterRef(GKE_REF) as Extract<ClusterRef, { kind: 'gke' }>;
const noRetry = { retry: { maxAttempts: 1 } };

async function failure(run: () => Promise<unknown> | unknown): Promise<{ code: ErrorCode; message: string }> {
  try {
    await run();
  } catch (err) {
    if (isMeshlinkError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a failure');
}

describe('gkeKubeConfig (no network: getCluster is a fake)', () => {
  const info: GkeClusterInfo = {
    endpoint: '203.0.113.10',
    masterAuth: { clusterCaCertificate: 'Q0EgUEVN' },
    privateClusterConfig: { privateEndpoint: '10.0.0.2' },
    controlPlaneEndpointsConfig: { dnsEndpointConfig: { endpoint: 'gke-0123.europe-west1.gke.goog' } },
  };

  it.each<{ endpoint: GkeEndpoint; server: string; caData: string | undefined }>([
    { endpoint: 'public', server: 'https://203.0.113.10', caData: 'Q0EgUEVN' },
    { endpoint: 'private', server: 'https://10.0.0.2', caData: 'Q0EgUEVN' },
    { endpoint: 'dns', server: 'https://gke-0123.europe-west1.gke.goog', caData: undefined },
  ])('uses the $endpoint endpoint', async ({ endpoint, server, caData }) => {
    const asked: string[] = [];
    const kc = await gkeKubeConfig(GKE_REF, gkeRef, async (name) => (asked.push(name), info), async () => 't', endpoint);
    expect(asked).toEqual([GKE_REF]);
    expect(kc.getCurrentCluster()?.server).toBe(server);
    expect(kc.getCurrentCluster()?.caData).toBe(caData);
  });

  it.each<{ case: string; answer: () => Promise<GkeClusterInfo>; code: ErrorCode }>([
    { case: 'a cluster without an endpoint yet', answer: async () => ({ masterAuth: info.masterAuth }), code: 'unavailable' },
    { case: 'no CA (caller lacks getCredentials)', answer: async () => ({ endpoint: '203.0.113.10', masterAuth: {} }), code: 'permission-denied' },
    { case: 'PERMISSION_DENIED', answer: () => Promise.reject(Object.assign(new Error('denied'), { code: 7 })), code: 'permission-denied' },
    { case: 'UNAUTHENTICATED', answer: () => Promise.reject(Object.assign(new Error('no creds'), { code: 16 })), code: 'permission-denied' },
    { case: 'NOT_FOUND', answer: () => Promise.reject(Object.assign(new Error('gone'), { code: 5 })), code: 'not-found' },
    { case: 'UNAVAILABLE', answer: () => Promise.reject(Object.assign(new Error('later'), { code: 14 })), code: 'unavailable' },
    { case: 'no Application Default Credentials', answer: () => Promise.reject(new Error('Could not load the default credentials')), code: 'permission-denied' },
  ])('reports $case as $code naming the cluster', async ({ answer, code }) => {
    const err = await failure(() => gkeKubeConfig(GKE_REF, gkeRef, answer, async () => 't'));
    expect(err.code).toBe(code);
    expect(err.message).toContain(GKE_REF);
  });
});

describe('fleetKubeConfig', () => {
  it('points at the Connect gateway with no CA and a bearer token asked per request', async () => {
    let n = 0;
    const ref = parseClusterRef('projects/123/locations/us-east1/memberships/eks-1') as Extract<ClusterRef, { kind: 'fleet' }>;
    const kc = fleetKubeConfig('eks', ref, async () => `token-${++n}`);

    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://us-east1-connectgateway.googleapis.com/v1/projects/123/locations/us-east1/memberships/eks-1' });
    expect(kc.getCurrentCluster()?.caData).toBeUndefined();
    const authorization = async () => {
      const opts: RequestOptions = {};
      await kc.applyToHTTPSOptions(opts);
      return (opts.headers as Record<string, unknown> | undefined)?.Authorization;
    };
    expect(await authorization()).toBe('Bearer token-1');
    expect(await authorization()).toBe('Bearer token-2');
  });

  it('trusts the CA it is given (a test gateway) at the configured endpoint', () => {
    const ref = parseClusterRef('projects/123/locations/global/memberships/m1') as Extract<ClusterRef, { kind: 'fleet' }>;
    const caPem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const kc = fleetKubeConfig('m1', ref, async () => 't', { endpoint: 'https://127.0.0.1:9443', caPem });
    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://127.0.0.1:9443/v1/projects/123/locations/global/memberships/m1', caData: Buffer.from(caPem).toString('base64') });
  });

  it('reports a token failure as permission-denied naming the cluster', async () => {
    const ref = parseClusterRef('projects/123/locations/global/memberships/m') as Extract<ClusterRef, { kind: 'fleet' }>;
    const kc = fleetKubeConfig('fleet-m', ref, () => Promise.reject(new Error('metadata server said no')));
    expect(await failure(() => kc.applyToHTTPSOptions({}))).toMatchObject({ code: 'permission-denied', message: expect.stringContaining('fleet-m') });
  });
});

describe.skipIf(!(await opensslAvailable()))('credentials against the fake API server', () => {
  let fake: FakeKubeApi;
  let dir: string;

  beforeAll(async () => {
    fake = await startFakeKubeApi();
    dir = await mkdtemp(join(tmpdir(), 'meshlink-kubeconfig-'));
  });
  afterAll(async () => {
    await fake?.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => fake.wipe());

  const clusterInfo = (): GkeClusterInfo => ({
    endpoint: fake.url.replace('https://', ''),
    masterAuth: { clusterCaCertificate: Buffer.from(fake.caPem).toString('base64') },
  });

  it('reaches a GKE cluster with its CA and a fresh token on every request, reading the cluster once', async () => {
    let lookups = 0;
    let tokens = 0;
    const source = kubeConfigSource(GKE_REF, gkeRef, {
      getCluster: async () => (lookups++, clusterInfo()),
      getAccessToken: async () => (tokens++, fake.token),
    });
    const target = new KubernetesTarget(GKE_REF, source, noRetry);

    expect((await target.apply([ingressGateway('mysql')]))[0]?.outcome).toBe('created');
    expect((await target.apply([ingressGateway('mysql')]))[0]?.outcome).toBe('unchanged');
    expect(lookups).toBe(1);
    expect(tokens).toBe(fake.requests.length);
  });

  it('uses the refreshed token: a stale one is refused, the next one works', async () => {
    const answers = ['expired-token', fake.token];
    const source = kubeConfigSource(GKE_REF, gkeRef, { getCluster: async () => clusterInfo(), getAccessToken: async () => answers.shift() ?? fake.token });
    const target = new KubernetesTarget(GKE_REF, source, noRetry);

    expect(await failure(() => target.getService('istio-system', 'x'))).toMatchObject({ code: 'permission-denied' });
    expect(await target.getService('istio-system', 'x')).toBeUndefined();
  });

  it('tries getCluster again after a failure instead of caching it', async () => {
    const answers: (() => Promise<GkeClusterInfo>)[] = [() => Promise.reject(Object.assign(new Error('later'), { code: 14 })), async () => clusterInfo()];
    const source = kubeConfigSource(GKE_REF, gkeRef, { getCluster: () => answers.shift()!(), getAccessToken: async () => fake.token });
    const target = new KubernetesTarget(GKE_REF, source, noRetry);

    expect(await failure(() => target.getService('istio-system', 'x'))).toMatchObject({ code: 'unavailable' });
    expect(await target.getService('istio-system', 'x')).toBeUndefined();
  });

  it('reports a token that cannot be had as permission-denied naming the cluster', async () => {
    const source = kubeConfigSource(GKE_REF, gkeRef, { getCluster: async () => clusterInfo(), getAccessToken: () => Promise.reject(new Error('no ADC')) });
    const err = await failure(() => new KubernetesTarget(GKE_REF, source, noRetry).apply([ingressGateway('mysql')]));
    expect(err.code).toBe('permission-denied');
    expect(err.message).toContain(GKE_REF);
    expect(fake.requests).toEqual([]);
  });

  describe('kubeconfig contexts', () => {
    let file: string;
    beforeAll(async () => {
      file = join(dir, 'config');
      await writeFile(
        file,
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'fake', cluster: { server: fake.url, 'certificate-authority-data': Buffer.from(fake.caPem).toString('base64') } }],
          users: [{ name: 'good', user: { token: fake.token } }, { name: 'bad', user: { token: 'nope' } }],
          contexts: [{ name: 'kind-server', context: { cluster: 'fake', user: 'good' } }, { name: 'other', context: { cluster: 'fake', user: 'bad' } }],
          'current-context': 'other',
        }),
        { mode: 0o600 },
      );
    });

    it('selects the named context, not the current one', async () => {
      const target = new KubernetesTarget('kubeconfig:kind-server', contextKubeConfig('kubeconfig:kind-server', 'kind-server', file), noRetry);
      expect((await target.apply([ingressGateway('mysql')]))[0]?.outcome).toBe('created');
    });

    it('names a missing context', async () => {
      const err = await failure(() => contextKubeConfig('kubeconfig:nope', 'nope', file));
      expect(err).toMatchObject({ code: 'not-found', message: expect.stringContaining('"nope"') });
    });

    it('reports an unreadable kubeconfig as permission-denied', async () => {
      const err = await failure(() => contextKubeConfig('kubeconfig:x', 'x', join(dir, 'absent')));
      expect(err).toMatchObject({ code: 'permission-denied', message: expect.stringContaining('kubeconfig:x') });
    });
  });
});
