// The Kubernetes adapter with the real @kubernetes/client-node against the fake API server over TLS.
import { createServer } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesTarget, type KubernetesTargetOptions } from '../../shared/clusters/kubernetes-target.js';
import { isMeshlinkError, type ErrorCode } from '../../shared/errors.js';
import { LABEL_LINK } from '../../shared/link/names.js';
import { opensslAvailable, startFakeKubeApi, type FakeKubeApi } from '../fakes/kube-api-server.js';
import { credentialSecret, ingressGateway, inNamespace, ISTIO_API, KINDS, labelledFor, linkObjects, originateDestinationRule } from './objects.js';
import { MeshlinkError } from '../../shared/errors.js';

const hasOpenssl = await opensslAvailable();
if (!hasOpenssl) console.warn('skipping Kubernetes adapter tests: the `openssl` command is needed to mint the fake API server certificate');

const CLUSTER = 'projects/p/locations/europe-west1/clusters/server';
const NS = 'istio-system';
const INGRESS = 'istio-ingressgateway';
const WRITES = new Set(['PATCH', 'POST', 'PUT', 'DELETE']);

/** `token: null` leaves the user without credentials. */
function kubeConfig(fake: FakeKubeApi, server = fake.url, token: string | null = fake.token): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server, caData: Buffer.from(fake.caPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'sa', ...(token === null ? {} : { token }) }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'sa' }],
    currentContext: 'fake',
  });
  return kc;
}

async function rejection(promise: Promise<unknown>): Promise<{ code: ErrorCode; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (isMeshlinkError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a rejection');
}

describe.skipIf(!hasOpenssl)('KubernetesTarget against the fake API server', () => {
  let fake: FakeKubeApi;
  let delays: number[];

  const target = (options: KubernetesTargetOptions = {}, kc?: KubeConfig) =>
    new KubernetesTarget(CLUSTER, kc ?? kubeConfig(fake), { retry: { sleep: async (ms) => void delays.push(ms), random: () => 0.5 }, ...options });
  const writes = () => fake.requests.filter((r) => WRITES.has(r.method));
  const stored = (kind: string, name: string) => fake.objects().find((o) => o.kind === kind && o.metadata.name === name);
  const servicePorts = () => (stored('Service', INGRESS)?.spec as { ports: { name: string; port: number }[] }).ports.map((p) => `${p.name}:${p.port}`);

  beforeAll(async () => {
    fake = await startFakeKubeApi();
  });
  afterAll(async () => {
    await fake?.close();
  });
  beforeEach(() => {
    fake.wipe();
    delays = [];
  });

  describe('apply', () => {
    it('creates every object by server-side apply with field manager meshlink, forced', async () => {
      const objects = linkObjects('mysql');
      const result = await target().apply(objects);

      expect(result).toEqual(objects.map((o) => ({ kind: o.kind, namespace: NS, name: o.metadata.name, outcome: 'created' })));
      for (const o of objects) {
        const live = stored(o.kind, o.metadata.name);
        expect(live?.metadata.annotations).toEqual(o.metadata.annotations);
        expect(live?.metadata.labels).toEqual(o.metadata.labels);
        expect(live?.metadata.managedFields).toEqual([expect.objectContaining({ manager: 'meshlink', operation: 'Apply' })]);
      }
      expect(stored('Gateway', ingressGateway('mysql').metadata.name)?.spec).toEqual(ingressGateway('mysql').spec);
      expect(stored('Secret', credentialSecret('mysql', 'server').metadata.name)?.data).toEqual(credentialSecret('mysql', 'server').data);
      expect(writes()).toHaveLength(3);
      for (const w of writes()) {
        expect(w).toMatchObject({ method: 'PATCH', contentType: 'application/apply-patch+yaml', query: { fieldManager: 'meshlink', force: 'true' } });
      }
    });

    it('makes no write when every live object already carries the desired revision', async () => {
      await target().apply(linkObjects('mysql'));
      fake.requests.length = 0;

      const result = await target().apply(linkObjects('mysql'));

      expect(result.map((r) => r.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged']);
      expect(fake.requests.filter((r) => r.method === 'GET').length).toBeGreaterThanOrEqual(3);
      expect(writes()).toEqual([]);
    });

    it('updates only the object whose revision changed', async () => {
      await target().apply(linkObjects('mysql'));
      const before = stored('Secret', 'meshlink-mysql-server')?.metadata.resourceVersion;
      fake.requests.length = 0;

      const result = await target().apply([ingressGateway('mysql'), originateDestinationRule('mysql'), credentialSecret('mysql', 'server', 'r2')]);

      expect(result.map((r) => r.outcome)).toEqual(['unchanged', 'unchanged', 'updated']);
      expect(writes().map((w) => w.path)).toEqual([`/api/v1/namespaces/${NS}/secrets/meshlink-mysql-server`]);
      const after = stored('Secret', 'meshlink-mysql-server');
      expect(after?.data).toEqual(credentialSecret('mysql', 'server', 'r2').data);
      expect(after?.metadata.resourceVersion).not.toBe(before);
    });

    it('applies an object without a revision annotation every time', async () => {
      const plain = ingressGateway('mysql');
      delete plain.metadata.annotations;
      await target().apply([plain]);
      const result = await target().apply([plain]);
      expect(result[0]?.outcome).toBe('updated');
      expect(writes()).toHaveLength(2);
    });

    it.each([1, 2, 4])('keeps at most %i requests in flight', async (limit) => {
      fake.setLatency(20); // answers overlap, so an unbounded client would have all 12 in flight
      const objects = ['a', 'b', 'c', 'd'].flatMap((l) => linkObjects(l));
      await target({ maxInFlight: limit }).apply(objects);
      expect(fake.objects()).toHaveLength(objects.length);
      expect(fake.peakInFlight()).toBeLessThanOrEqual(limit);
    });

    it('reports a kind the cluster does not serve as invalid-argument', async () => {
      const gw = { ...ingressGateway('mysql'), apiVersion: 'networking.istio.io/v1alpha9' };
      const err = await rejection(target().apply([gw]));
      expect(err.code).toBe('invalid-argument');
      expect(err.message).toContain('networking.istio.io/v1alpha9');
      expect(writes()).toEqual([]);
    });
  });

  describe('ownership (invariant 6)', () => {
    const taken = `Gateway ${NS}/mysql-ingress on cluster ${CLUSTER} belongs to link orders`;

    it('refuses the whole apply when a live object is labelled for another link: a conflict naming it, nothing written', async () => {
      await target().apply([labelledFor(ingressGateway('mysql'), 'orders')]);
      fake.requests.length = 0;

      const err = await target().apply(linkObjects('mysql')).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(MeshlinkError);
      expect(err).toMatchObject({ code: 'conflict', details: [{ path: 'name', message: taken }] });
      expect(writes()).toEqual([]);
      expect(stored('Gateway', 'mysql-ingress')?.metadata.labels?.[LABEL_LINK]).toBe('orders');
    });

    it('checkOwners reads only: the same conflict, and nothing for objects absent or the link\'s own', async () => {
      await target().apply([labelledFor(ingressGateway('mysql'), 'orders'), credentialSecret('mysql', 'server')]);
      fake.requests.length = 0;

      await expect(target().checkOwners(linkObjects('mysql'))).rejects.toMatchObject({ code: 'conflict', details: [{ message: taken }] });
      await expect(target().checkOwners([credentialSecret('mysql', 'server'), originateDestinationRule('mysql')])).resolves.toBeUndefined();
      expect(writes()).toEqual([]);
    });

    it('takes over a live object that carries no link label (made by hand, as the walkthrough did)', async () => {
      const unlabelled = ingressGateway('mysql', 'r0');
      delete unlabelled.metadata.labels;
      await target().apply([unlabelled]);
      expect((await target().apply([ingressGateway('mysql')]))[0]?.outcome).toBe('updated');
    });
  });

  describe('getService', () => {
    it.each([
      { case: 'an IP address', lb: '203.0.113.7', address: '203.0.113.7' },
      { case: 'a hostname', lb: 'lb.example.com', address: 'lb.example.com' },
      { case: 'no load balancer yet', lb: undefined, address: undefined },
    ])('reads ports and $case', async ({ lb, address }) => {
      fake.seedService(NS, INGRESS, [{ name: 'status-port', port: 15021 }, { name: 'https', port: 443, targetPort: 8443 }], lb);
      const info = await target().getService(NS, INGRESS);
      expect(info).toEqual({
        namespace: NS,
        name: INGRESS,
        ports: [
          { name: 'status-port', port: 15021, targetPort: 15021, protocol: 'TCP' },
          { name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' },
        ],
        ...(address ? { address } : {}),
      });
    });

    it('answers undefined for a missing Service', async () => {
      expect(await target().getService(NS, 'nope')).toBeUndefined();
    });
  });

  describe('ensureServicePorts', () => {
    beforeEach(() => {
      fake.seedService(NS, INGRESS, [{ name: 'status-port', port: 15021 }, { name: 'http2', port: 80 }, { name: 'https', port: 443 }], '203.0.113.7');
      fake.requests.length = 0;
    });

    it('appends the missing ports, keeps the others in order, and is idempotent', async () => {
      const wanted = [{ name: 'tls-mysql', port: 15443 }, { name: 'https', port: 443 }];
      const added = await target().ensureServicePorts(NS, INGRESS, wanted);

      expect(added).toEqual([{ name: 'tls-mysql', port: 15443 }]);
      expect(servicePorts()).toEqual(['status-port:15021', 'http2:80', 'https:443', 'tls-mysql:15443']);
      const patch = writes();
      expect(patch).toEqual([expect.objectContaining({ method: 'PATCH', contentType: 'application/json-patch+json', status: 200 })]);

      fake.requests.length = 0;
      expect(await target().ensureServicePorts(NS, INGRESS, wanted)).toEqual([]);
      expect(writes()).toEqual([]);
      expect(servicePorts()).toEqual(['status-port:15021', 'http2:80', 'https:443', 'tls-mysql:15443']);
    });

    it('re-reads and retries when another writer changed the Service between read and patch', async () => {
      fake.beforeNext('PATCH', /\/services\/istio-ingressgateway$/, () =>
        fake.mutate(NS, 'services', INGRESS, (s) => (s.spec as { ports: unknown[] }).ports.push({ name: 'other', port: 9000, protocol: 'TCP' })),
      );

      const added = await target().ensureServicePorts(NS, INGRESS, [{ name: 'tls-mysql', port: 15443 }]);

      expect(added).toEqual([{ name: 'tls-mysql', port: 15443 }]);
      expect(writes().map((w) => w.status)).toEqual([422, 200]);
      expect(servicePorts()).toEqual(['status-port:15021', 'http2:80', 'https:443', 'other:9000', 'tls-mysql:15443']);
    });

    it('gives up with conflict when the Service keeps changing', async () => {
      for (let i = 0; i < 3; i += 1) {
        fake.beforeNext('PATCH', /\/services\/istio-ingressgateway$/, () => fake.mutate(NS, 'services', INGRESS, (s) => void (s.metadata.labels = { touched: String(i) })));
      }
      const err = await rejection(target({ patchAttempts: 3 }).ensureServicePorts(NS, INGRESS, [{ name: 'tls-mysql', port: 15443 }]));
      expect(err.code).toBe('conflict');
      expect(writes()).toHaveLength(3);
    });

    it('reports a port the API refuses (duplicate name) as invalid-argument without looping', async () => {
      const err = await rejection(target().ensureServicePorts(NS, INGRESS, [{ name: 'https', port: 8443 }]));
      expect(err.code).toBe('invalid-argument');
      expect(err.message).toContain('Duplicate value');
      expect(writes()).toHaveLength(1);
    });

    it.each([
      { case: 'a moved port of its own is replaced in place', own: ['tls-mysql'], want: ['status-port:15021', 'http2:80', 'https:443', 'tls-mysql:15444', 'tls-other:15450'] },
      { case: 'a port another owns is not replaced (own names others)', own: ['tls-other'], want: ['status-port:15021', 'http2:80', 'https:443', 'tls-mysql:15443', 'tls-other:15450'] },
    ])('$case, in one guarded write', async ({ own, want }) => {
      await target().ensureServicePorts(NS, INGRESS, [{ name: 'tls-mysql', port: 15443 }, { name: 'tls-other', port: 15450 }]);
      fake.requests.length = 0;

      const ensure = target().ensureServicePorts(NS, INGRESS, [{ name: 'tls-mysql', port: 15444 }], own);

      if (own.includes('tls-mysql')) {
        expect(await ensure).toEqual([{ name: 'tls-mysql', port: 15444 }]);
        expect(writes().map((w) => w.status)).toEqual([200]);
      } else {
        expect((await rejection(ensure)).message).toContain('Duplicate value');
      }
      expect(servicePorts()).toEqual(want);
    });

    it('reports a missing Service as not-found', async () => {
      const err = await rejection(target().ensureServicePorts(NS, 'nope', [{ name: 'tls-mysql', port: 15443 }]));
      expect(err).toMatchObject({ code: 'not-found' });
      expect(err.message).toContain(CLUSTER);
    });
  });

  describe('removeServicePorts', () => {
    beforeEach(() => {
      fake.seedService(NS, INGRESS, [
        { name: 'status-port', port: 15021 },
        { name: 'tls-a', port: 15443 },
        { name: 'https', port: 443 },
        { name: 'tls-b', port: 15444 },
      ]);
      fake.requests.length = 0;
    });

    it('removes the named ports only and reports which were there', async () => {
      const removed = await target().removeServicePorts(NS, INGRESS, ['tls-b', 'tls-a', 'absent']);
      expect(removed).toEqual(['tls-a', 'tls-b']);
      expect(servicePorts()).toEqual(['status-port:15021', 'https:443']);
      expect(await target().removeServicePorts(NS, INGRESS, ['tls-a'])).toEqual([]);
    });

    it('retries when the ports moved under it (the name test fails)', async () => {
      fake.beforeNext('PATCH', /\/services\/istio-ingressgateway$/, () =>
        fake.mutate(NS, 'services', INGRESS, (s) => (s.spec as { ports: unknown[] }).ports.unshift({ name: 'first', port: 1, protocol: 'TCP' })),
      );
      expect(await target().removeServicePorts(NS, INGRESS, ['tls-a'])).toEqual(['tls-a']);
      expect(writes().map((w) => w.status)).toEqual([422, 200]);
      expect(servicePorts()).toEqual(['first:1', 'status-port:15021', 'https:443', 'tls-b:15444']);
    });

    it('answers nothing removed for a missing Service', async () => {
      expect(await target().removeServicePorts(NS, 'nope', ['tls-a'])).toEqual([]);
    });
  });

  describe('deleteByLabel', () => {
    it.each([
      { case: 'across all namespaces', namespaces: undefined, path: /^\/api\/v1\/secrets$/ },
      { case: 'in the listed namespaces', namespaces: [NS, 'other'], path: /^\/api\/v1\/namespaces\/istio-system\/secrets$/ },
    ])('deletes every object of the link $case and nothing else', async ({ namespaces, path }) => {
      await target().apply([...linkObjects('a'), ...linkObjects('b')]);
      fake.requests.length = 0;
      const kinds = [KINDS.gateway, KINDS.destinationRule, KINDS.secret];

      const count = await target(namespaces ? { namespaces } : {}).deleteByLabel({ [LABEL_LINK]: 'a' }, kinds);

      expect(count).toBe(3);
      expect(fake.objects().map((o) => o.metadata.labels?.[LABEL_LINK])).toEqual(['b', 'b', 'b']);
      expect(fake.requests.some((r) => r.method === 'GET' && path.test(r.path) && r.query.labelSelector === `${LABEL_LINK}=a`)).toBe(true);
      expect(await target().deleteByLabel({ [LABEL_LINK]: 'a' }, kinds)).toBe(0);
    });
  });

  it.each([
    { case: 'searching all namespaces otherwise', options: {} },
    { case: 'even where the target lists other namespaces', options: { namespaces: [NS] } },
  ])('deleteByLabel in one namespace leaves the same objects in another, $case', async ({ options }) => {
    await target().apply([...linkObjects('a'), ...inNamespace(linkObjects('a'), 'old-gateways')]);
    fake.requests.length = 0;

    const count = await target(options).deleteByLabel({ [LABEL_LINK]: 'a' }, [KINDS.gateway, KINDS.destinationRule, KINDS.secret], 'old-gateways');

    expect(count).toBe(3);
    expect(fake.objects().map((o) => o.metadata.namespace)).toEqual([NS, NS, NS]);
    expect(fake.requests.filter((r) => r.method === 'GET' && r.query.labelSelector).map((r) => r.path)).toEqual([
      '/apis/networking.istio.io/v1beta1/namespaces/old-gateways/gateways',
      '/apis/networking.istio.io/v1beta1/namespaces/old-gateways/destinationrules',
      '/api/v1/namespaces/old-gateways/secrets',
    ]);
  });

  it('deleteByLabel spares the objects named in keep, by kind and name', async () => {
    await target().apply(linkObjects('a'));
    const gateway = ingressGateway('a');
    const count = await target().deleteByLabel({ [LABEL_LINK]: 'a' }, [KINDS.gateway, KINDS.secret], NS, [
      { kind: 'Gateway', name: gateway.metadata.name },
      { kind: 'Gateway', name: credentialSecret('a', 'server').metadata.name }, // another kind's name keeps nothing
    ]);
    expect(count).toBe(1);
    expect(fake.objects().map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([`DestinationRule/originate-mtls-for-a`, `Gateway/${gateway.metadata.name}`]);
  });

  it('refuses deleteByLabel with no labels before any request', async () => {
    const err = await rejection(target().deleteByLabel({}, [KINDS.secret]));
    expect(err.code).toBe('invalid-argument');
    expect(fake.requests).toEqual([]);
  });

  describe('findGatewayNamespaces', () => {
    const EGRESS = { istio: 'egressgateway' };
    type Pod = [namespace: string, name: string, labels: Record<string, string>, phase?: string];
    const egressPod = (namespace: string, name: string, phase?: string): Pod => [namespace, name, { ...EGRESS, app: 'istio-egressgateway' }, phase];

    it.each<{ case: string; pods: Pod[]; want: string[] }>([
      { case: 'the namespace of the running gateway pods', pods: [egressPod('gateways', 'egress-1'), egressPod('gateways', 'egress-2')], want: ['gateways'] },
      { case: 'no namespace when no pod carries the labels', pods: [['gateways', 'ingress-1', { istio: 'ingressgateway' }]], want: [] },
      { case: 'every namespace, sorted, when pods run in several', pods: [egressPod('team-b', 'e1'), egressPod('team-a', 'e2'), egressPod('team-b', 'e3')], want: ['team-a', 'team-b'] },
      { case: 'only running pods', pods: [egressPod('old', 'e1', 'Succeeded'), egressPod('next', 'e2', 'Pending'), egressPod('gateways', 'e3')], want: ['gateways'] },
      { case: 'nothing when the only pods are not running', pods: [egressPod('old', 'e1', 'Failed')], want: [] },
    ])('finds $case', async ({ pods, want }) => {
      for (const pod of pods) fake.seedPod(...pod);
      expect(await target().findGatewayNamespaces(EGRESS)).toEqual(want);
      expect(fake.requests).toEqual([
        expect.objectContaining({ method: 'GET', path: '/api/v1/pods', query: expect.objectContaining({ labelSelector: 'istio=egressgateway', fieldSelector: 'status.phase=Running' }), status: 200 }),
      ]);
    });

    it('matches every label of the selector', async () => {
      fake.seedPod('a', 'p1', { istio: 'egressgateway', revision: 'canary' });
      fake.seedPod('b', 'p2', { istio: 'egressgateway', revision: 'stable' });
      expect(await target().findGatewayNamespaces({ istio: 'egressgateway', revision: 'stable' })).toEqual(['b']);
    });

    it('reports 403 as permission-denied naming the cluster and both ways out', async () => {
      fake.failNext('GET', /^\/api\/v1\/pods$/, 403);
      const err = await rejection(target().findGatewayNamespaces(EGRESS));
      expect(err.code).toBe('permission-denied');
      expect(err.message).toContain(CLUSTER);
      expect(err.message).toContain('`list pods` at cluster scope');
      expect(err.message).toContain('gateway.namespace');
    });

    it('does not blame pod permissions for rejected credentials (401)', async () => {
      const err = await rejection(target({}, kubeConfig(fake, fake.url, null)).findGatewayNamespaces(EGRESS));
      expect(err.code).toBe('permission-denied');
      expect(err.message).toContain('401');
      expect(err.message).not.toContain('list pods` at cluster scope');
    });
  });

  describe('errors', () => {
    const GW_PATCH = /\/gateways\/mysql-ingress$/;

    it.each([
      { status: 400, code: 'invalid-argument' },
      { status: 403, code: 'permission-denied' },
      { status: 404, code: 'not-found' },
      { status: 409, code: 'conflict' },
      { status: 422, code: 'invalid-argument' },
    ] as const)('translates $status into $code without retrying', async ({ status, code }) => {
      fake.failNext('PATCH', GW_PATCH, status);
      const err = await rejection(target().apply([ingressGateway('mysql')]));
      expect(err.code).toBe(code);
      expect(err.message).toContain(CLUSTER);
      expect(err.message).toContain('apply Gateway istio-system/mysql-ingress');
      expect(err.message).toContain(`injected failure ${status}`);
      expect(writes()).toHaveLength(1);
    });

    it.each([
      { status: 429, retryAfter: 3, minDelay: 3000 },
      { status: 500, retryAfter: undefined, minDelay: 0 },
      { status: 503, retryAfter: undefined, minDelay: 0 },
    ])('retries $status and then succeeds', async ({ status, retryAfter, minDelay }) => {
      fake.failNext('PATCH', GW_PATCH, status, retryAfter);
      const result = await target().apply([ingressGateway('mysql')]);
      expect(result[0]?.outcome).toBe('created');
      expect(writes().map((w) => w.status)).toEqual([status, 201]);
      expect(delays).toHaveLength(1);
      expect(delays[0]).toBeGreaterThanOrEqual(minDelay);
    });

    it('gives up with unavailable after the last attempt, backing off exponentially', async () => {
      for (let i = 0; i < 4; i += 1) fake.failNext('PATCH', GW_PATCH, 500);
      const err = await rejection(target({ retry: { maxAttempts: 4, sleep: async (ms) => void delays.push(ms), random: () => 0.5 } }).apply([ingressGateway('mysql')]));
      expect(err.code).toBe('unavailable');
      expect(writes()).toHaveLength(4);
      expect(delays).toHaveLength(3);
      expect(delays[1]).toBe(delays[0]! * 2);
      expect(delays[2]).toBe(delays[1]! * 2);
    });

    it('retries a failed discovery request', async () => {
      fake.failNext('GET', /^\/apis\/networking\.istio\.io\/v1beta1$/, 503);
      const result = await target().apply([ingressGateway('mysql')]);
      expect(result[0]?.outcome).toBe('created');
    });

    it('reports a missing bearer token as permission-denied naming the cluster', async () => {
      const err = await rejection(target({}, kubeConfig(fake, fake.url, null)).getService(NS, INGRESS));
      expect(err.code).toBe('permission-denied');
      expect(err.message).toContain(CLUSTER);
      expect(err.message).toContain('401');
    });

    it('reports an unreachable API server as unavailable', async () => {
      const closed = await new Promise<number>((resolve) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const port = (s.address() as { port: number }).port;
          s.close(() => resolve(port));
        });
      });
      const err = await rejection(target({}, kubeConfig(fake, `https://127.0.0.1:${closed}`)).getService(NS, INGRESS));
      expect(err.code).toBe('unavailable');
      expect(delays).toHaveLength(3);
    });
  });

  it('reaches an API served under a path prefix (the Connect gateway) only through that prefix', async () => {
    const prefixed = await startFakeKubeApi({ pathPrefix: '/v1/projects/123/locations/global/memberships/m1' });
    try {
      prefixed.seedService(NS, INGRESS, [{ name: 'https', port: 443 }]);
      const at = (server: string) => new KubernetesTarget('fleet', kubeConfig(prefixed, server), { retry: { maxAttempts: 1 } });

      expect((await at(prefixed.url).getService(NS, INGRESS))?.ports.map((p) => p.port)).toEqual([443]);
      expect(prefixed.requests).toEqual([expect.objectContaining({ path: `/api/v1/namespaces/${NS}/services/${INGRESS}`, status: 200 })]);
      expect(await at(prefixed.origin).getService(NS, INGRESS)).toBeUndefined(); // outside the prefix: nothing there
      expect(prefixed.requests[1]).toMatchObject({ status: 404, outside: true });
    } finally {
      await prefixed.close();
    }
  });

  it('serves the same objects under networking.istio.io/v1 and v1beta1', async () => {
    await target().apply([ingressGateway('mysql')]);
    const v1 = { ...ingressGateway('mysql'), apiVersion: 'networking.istio.io/v1' };
    expect((await target().apply([v1]))[0]?.outcome).toBe('unchanged');
    expect(ISTIO_API).toBe('networking.istio.io/v1beta1');
  });
});
