// Gateway namespace discovery when a spec leaves `<side>.gateway.namespace` out: the namespace of
// the running gateway pods, stored in the spec document, with its fallbacks and refusals.
import { describe, expect, it } from 'vitest';
import { applyLink } from '../../shared/app/provision.js';
import { getLink } from '../../shared/app/queries.js';
import { MeshlinkError, isMeshlinkError, type ErrorCode, type ErrorDetail } from '../../shared/errors.js';
import { credentialName } from '../../shared/link/names.js';
import { specInput, withField } from '../support/builders.js';
import { storeWrites, testApp, type TestApp } from '../support/app.js';
import { unavailable, type MemoryCluster } from '../support/memory-clusters.js';

const CLIENT = 'client-cluster';
const SERVER = 'server-cluster';
const EGRESS = { istio: 'egressgateway' };
const INGRESS = { istio: 'ingressgateway' };

async function failure(work: Promise<unknown>): Promise<{ code: ErrorCode; message: string; details: ErrorDetail[] }> {
  try {
    await work;
  } catch (err) {
    if (isMeshlinkError(err)) return { code: err.code, message: err.message, details: err.details };
    throw err;
  }
  throw new Error('expected a failure');
}

interface Case {
  case: string;
  /** Prepares the client cluster (the side under test). */
  client: (c: MemoryCluster) => void;
  want: string;
}

describe('gateway namespace discovery', () => {
  const cases: Case[] = [
    { case: 'the namespace of the running egress gateway pods', client: (c) => c.seedPod('gateways', 'egress-1', EGRESS), want: 'gateways' },
    {
      case: 'one namespace however many pods run there',
      client: (c) => {
        c.seedPod('egress', 'egress-1', EGRESS);
        c.seedPod('egress', 'egress-2', { ...EGRESS, app: 'istio-egressgateway' });
      },
      want: 'egress',
    },
    {
      case: 'only running pods: a pending one elsewhere does not count',
      client: (c) => {
        c.seedPod('gateways', 'egress-1', EGRESS);
        c.seedPod('next', 'egress-2', EGRESS, 'Pending');
      },
      want: 'gateways',
    },
    { case: 'istio-system when no pod matches the selector', client: (c) => c.seedPod('gateways', 'ingress-1', INGRESS), want: 'istio-system' },
    {
      case: 'istio-system when the target cannot tell (a local directory)',
      client: (c) => {
        c.seedPod('gateways', 'egress-1', EGRESS);
        c.knowsPods = false;
      },
      want: 'istio-system',
    },
  ];

  it.each(cases)('uses $case, stores it in the spec and writes there', async ({ client, want }) => {
    const app = testApp();
    client(app.clusters.target(CLIENT));

    const { status } = await applyLink(app.deps, specInput());

    expect(status.client.namespace).toBe(want);
    expect((status.spec as any).client.gateway.namespace).toBe(want);
    expect(status.client.sync.status).toBe('synced');
    expect(app.clusters.target(CLIENT).get('Secret', want, credentialName('mysql', 'client'))).toBeDefined();
    expect((await getLink(app.deps, 'mysql')).spec).toEqual(status.spec);
  });

  it('looks each side up with its own selector', async () => {
    const app = testApp();
    app.clusters.target(CLIENT).seedPod('egress', 'e', EGRESS);
    app.clusters.target(SERVER).seedPod('egress', 'e', EGRESS); // the server side wants the ingress gateway
    app.clusters.target(SERVER).seedPod('team-ingress', 'i', { app: 'ingress-a' });
    const spec = withField(specInput(), 'server.gateway', { selector: { app: 'ingress-a' } });

    const { status } = await applyLink(app.deps, spec);

    expect([status.client.namespace, status.server.namespace]).toEqual(['egress', 'team-ingress']);
    expect((status.spec as any).server.gateway).toEqual({ namespace: 'team-ingress', selector: { app: 'ingress-a' }, service: 'istio-ingressgateway' });
  });

  it('does not look when the spec names the namespace', async () => {
    const app = testApp();
    app.clusters.target(CLIENT).seedPod('gateways', 'egress-1', EGRESS);
    const spec = withField(specInput(), 'client.gateway', { namespace: 'mine' });

    const { status } = await applyLink(app.deps, spec);

    expect(status.client.namespace).toBe('mine');
    expect(app.clusters.target(CLIENT).podLists).toBe(0);
  });

  it('refuses gateway pods in several namespaces, naming the field and the namespaces, storing nothing', async () => {
    const app = testApp();
    app.clusters.target(CLIENT).seedPod('team-b', 'e1', EGRESS);
    app.clusters.target(CLIENT).seedPod('team-a', 'e2', EGRESS);

    const err = await failure(applyLink(app.deps, specInput()));

    expect(err.code).toBe('invalid-argument');
    expect(err.details).toEqual([{ path: 'client.gateway.namespace', message: expect.stringContaining('team-a, team-b') }]);
    expect(storeWrites(app.store)).toBe(0);
    expect(app.clusters.totalWrites).toBe(0);
  });

  it('reports both sides when both are ambiguous', async () => {
    const app = testApp();
    for (const [cluster, labels] of [[CLIENT, EGRESS], [SERVER, INGRESS]] as const) {
      app.clusters.target(cluster).seedPod('a', 'p1', labels);
      app.clusters.target(cluster).seedPod('b', 'p2', labels);
    }
    const err = await failure(applyLink(app.deps, specInput()));
    expect(err.details.map((d) => d.path)).toEqual(['client.gateway.namespace', 'server.gateway.namespace']);
  });

  it('fails with permission-denied naming the field when the cluster forbids listing pods, storing nothing', async () => {
    const app = testApp();
    app.clusters.target(CLIENT).failure = new MeshlinkError('permission-denied', `cluster ${CLIENT} forbids meshlink to list pods in all namespaces (403)`);

    const err = await failure(applyLink(app.deps, specInput()));

    expect(err.code).toBe('permission-denied');
    expect(err.message).toContain(CLIENT);
    expect(err.details).toEqual([{ path: 'client.gateway.namespace', message: expect.stringContaining('list pods at cluster scope') }]);
    expect(storeWrites(app.store)).toBe(0);
  });

  it('falls back to istio-system for a cluster not there yet, and the side waits for it', async () => {
    const app = testApp();
    app.clusters.target(CLIENT).failure = unavailable(CLIENT);

    const { status } = await applyLink(app.deps, specInput());

    expect(status.client.namespace).toBe('istio-system');
    expect(status.client.sync.status).toBe('waiting-for-cluster');
    expect(app.log.lines).toContainEqual(expect.objectContaining({ message: 'cannot discover the gateway namespace', cluster: CLIENT, side: 'client' }));
  });

  describe('an existing link', () => {
    async function created(app: TestApp): Promise<void> {
      app.clusters.target(CLIENT).seedPod('gateways', 'egress-1', EGRESS);
      expect((await applyLink(app.deps, specInput())).status.client.namespace).toBe('gateways');
    }

    it('re-applied unchanged writes nothing', async () => {
      const app = testApp();
      await created(app);
      const before = { store: storeWrites(app.store), clusters: app.clusters.totalWrites };

      const { created: again, status } = await applyLink(app.deps, specInput());

      expect(again).toBe(false);
      expect(status.client.namespace).toBe('gateways');
      expect({ store: storeWrites(app.store), clusters: app.clusters.totalWrites }).toEqual(before);
    });

    it.each<{ case: string; change: (c: MemoryCluster) => void }>([
      { case: 'its gateway pods are not running', change: (c) => void (c.pods[0]!.phase = 'Pending') },
      { case: 'its gateway pods are gone', change: (c) => void c.pods.splice(0) },
      { case: 'its cluster cannot be reached', change: (c) => void (c.failure = unavailable(CLIENT)) },
    ])('keeps its namespace when $case', async ({ change }) => {
      const app = testApp();
      await created(app);
      change(app.clusters.target(CLIENT));

      const { status } = await applyLink(app.deps, specInput());

      expect(status.client.namespace).toBe('gateways');
    });

    it('follows its gateway pods to another namespace', async () => {
      const app = testApp();
      await created(app);
      app.clusters.target(CLIENT).pods.splice(0);
      app.clusters.target(CLIENT).seedPod('gateways-v2', 'egress-1', EGRESS);

      expect((await applyLink(app.deps, specInput())).status.client.namespace).toBe('gateways-v2');
    });

    it('does not keep the namespace of another gateway (selector changed, no pod matches)', async () => {
      const app = testApp();
      await created(app);
      const spec = withField(specInput(), 'client.gateway', { selector: { istio: 'egress-canary' } });

      expect((await applyLink(app.deps, spec)).status.client.namespace).toBe('istio-system');
    });
  });

  it('reads the nip.io ingress address in the discovered namespace', async () => {
    const app = testApp();
    app.clusters.target(SERVER).seedPod('ingress', 'i', INGRESS);
    app.clusters.target(SERVER).seedService('ingress', 'istio-ingressgateway', [], '198.51.100.7');
    app.clusters.target(SERVER).seedService('istio-system', 'istio-ingressgateway', [], '192.0.2.1');
    const { host: _host, ...spec } = specInput({ hostConvention: 'nip.io' });

    const { status } = await applyLink(app.deps, spec);

    expect(status.host).toBe('198.51.100.7.nip.io');
    expect(status.server.namespace).toBe('ingress');
  });

  it('leaves input the schema refuses to the schema', async () => {
    const app = testApp();
    const spec = withField(specInput(), 'client.gateway', { selector: { 'bad key!': 'x' } });

    const err = await failure(applyLink(app.deps, spec));

    expect(err.code).toBe('invalid-argument');
    expect(err.details.map((d) => d.path)).toContain('client.gateway.selector.bad key!');
    expect(app.clusters.target(CLIENT).podLists).toBe(0);
  });
});
