// The link health probe end to end: links created on the embedded defaults (local store, local
// cluster directories, the ingress address read from the gateway Service file), a Node tls server
// in the ingress gateway's role loaded from the server Secret the cluster directory holds, and
// POST /links/{name}:probe, GET /links/{name}, the sweep and the log lines the alert counts.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { handleApiRequest, type ApiRequest } from '../../functions/http-api.js';
import { probeRoutes } from '../../functions/probe.js';
import { makeRotationRoutes } from '../../functions/rotation.js';
import type { AppDeps } from '../../shared/app/deps.js';
import { linkCaBundle } from '../../shared/app/queries.js';
import { probeLink } from '../../shared/app/probe.js';
import { applyLink } from '../../shared/app/provision.js';
import { InProcessRotationQueue } from '../../shared/queue/in-process-rotation-queue.js';
import { sweep } from '../../shared/app/sweep.js';
import { localClusterDir } from '../../shared/clusters/resolver.js';
import { composeApp } from '../../shared/compose.js';
import { parseConfig } from '../../shared/config.js';
import { credentialName } from '../../shared/link/names.js';
import { memoryLogger } from '../support/log.js';
import { LOG_EVENTS } from '../../shared/log-events.js';
import { TlsProber } from '../../shared/probe/tls-probe.js';
import { testApp } from '../support/app.js';
import { specInput } from '../support/builders.js';
import { secretFromDirectory } from '../support/dataplane.js';
import { partnerPki, type PartnerPki } from '../support/partner-pki.js';
import { closedPort, closeServers, gatewayServer, LOOPBACK, opensslServer } from './servers.js';

const NAMESPACE = 'istio-system';
const dirs: string[] = [];
let partner: PartnerPki;
beforeAll(() => {
  partner = partnerPki();
});
afterAll(() => partner.remove());
afterEach(async () => {
  await closeServers();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const routes = [...probeRoutes, ...makeRotationRoutes(async (deps) => new InProcessRotationQueue(deps))];

function call(deps: AppDeps, method: string, path: string, body?: object) {
  const req: ApiRequest = { method, path, contentType: 'application/json', body: Buffer.from(body ? JSON.stringify(body) : '') };
  return handleApiRequest(deps, req, routes);
}

/**
 * The app on the embedded defaults at real time (the TLS stack checks validity on the system
 * clock), with the server cluster's ingress gateway Service holding a load-balancer address, as
 * `kubectl get svc -o yaml` shows it: the address the probe dials comes from there.
 */
async function localApp(env: Record<string, string> = {}) {
  const stateDir = await mkdtemp(join(tmpdir(), 'meshlink-probe-'));
  dirs.push(stateDir);
  const serverDir = localClusterDir(stateDir, 'server-cluster');
  await mkdir(join(serverDir, NAMESPACE), { recursive: true });
  const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'istio-ingressgateway', namespace: NAMESPACE }, spec: { ports: [] }, status: { loadBalancer: { ingress: [{ ip: LOOPBACK }] } } };
  await writeFile(join(serverDir, NAMESPACE, 'service-istio-ingressgateway.yaml'), toYaml(service));
  const log = memoryLogger();
  const deps = await composeApp(parseConfig({ MESHLINK_STATE_DIR: stateDir, ...env }), { workerId: 'probe-test', log });
  const gatewayPort = await closedPort();
  const created = await call(deps, 'POST', '/links', specInput({ server: { cluster: 'server-cluster', service: 'mysql.default.svc.cluster.local', port: 3306, gatewayPort } }));
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const serverSecret = secretFromDirectory(serverDir, NAMESPACE, credentialName('mysql', 'server'));
  return { deps, log, stateDir, gatewayPort, serverSecret, status: created.body as Record<string, any> };
}

describe('POST /links/{name}:probe against a gateway loaded from the local cluster directory', () => {
  it('ok, the current server leaf, dialled at the ingress address read from the gateway Service; GET shows it', async () => {
    const app = await localApp();
    expect(app.status.server.address).toBe(LOOPBACK);
    await gatewayServer(await app.serverSecret(), app.gatewayPort);
    const res = await call(app.deps, 'POST', '/links/mysql:probe');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ outcome: 'ok', target: `${LOOPBACK}:${app.gatewayPort}`, current: true, served: { fingerprint: app.status.server.fingerprint, notAfter: app.status.server.notAfter } });
    const got = await call(app.deps, 'GET', '/links/mysql');
    expect((got.body as any).probe).toEqual(res.body);
    expect(JSON.stringify([res.body, app.log.lines])).not.toMatch(/PRIVATE KEY/);
  });

  it('a gateway that keeps serving the leaf of before a rotation: ok but not current, logged; current once it reloads', async () => {
    const app = await localApp();
    const old = await app.serverSecret();
    const oldPort = await gatewayServer(old, app.gatewayPort);
    const rotated = await call(app.deps, 'POST', '/links/mysql:rotate', { scope: 'leaf' });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const newFingerprint = (rotated.body as any).status.server.fingerprint;
    expect(newFingerprint).not.toBe(app.status.server.fingerprint);

    const stale = await call(app.deps, 'POST', '/links/mysql:probe');
    expect(stale.body).toMatchObject({ outcome: 'ok', current: false, served: { fingerprint: app.status.server.fingerprint } });
    expect(app.log.lines.some((l) => l.link === 'mysql' && String(l.message).includes('older leaf'))).toBe(true);

    await closeServers(); // the gateway picks up the Secret the directory holds now
    await gatewayServer(await app.serverSecret(), oldPort);
    expect((await call(app.deps, 'POST', '/links/mysql:probe')).body).toMatchObject({ outcome: 'ok', current: true, served: { fingerprint: newFingerprint } });
  });

  it('nothing listening: refused, recorded, and a probe-failed line for the alert', async () => {
    const app = await localApp();
    const res = await call(app.deps, 'POST', '/links/mysql:probe');
    expect(res.body).toMatchObject({ outcome: 'error', error: { kind: 'refused' } });
    expect(((await call(app.deps, 'GET', '/links/mysql')).body as any).probe).toMatchObject({ outcome: 'error', error: { kind: 'refused' } });
    expect(app.log.lines).toContainEqual(expect.objectContaining({ event: LOG_EVENTS.probeFailed, severity: 'WARNING', link: 'mysql', kind: 'refused' }));
  });

  it('openssl s_server as the gateway with the server Secret: ok and current', async () => {
    const app = await localApp();
    const secret = await app.serverSecret();
    await opensslServer({ cert: secret['tls.crt'], key: secret['tls.key'], ca: secret['ca.crt'] }, app.gatewayPort);
    expect((await call(app.deps, 'POST', '/links/mysql:probe')).body).toMatchObject({ outcome: 'ok', current: true });
  });

  it('an unknown link is a 404', async () => {
    const app = await localApp();
    expect((await call(app.deps, 'POST', '/links/nosuch:probe')).status).toBe(404);
  });
});

describe('the sweep probes every link', () => {
  it('records a changed verdict, writes nothing for the same verdict again, and counts failures', async () => {
    const app = await localApp();
    await gatewayServer(await app.serverSecret(), app.gatewayPort);
    const queue = new InProcessRotationQueue(app.deps);
    const first = await sweep(app.deps, queue);
    expect(first.probes).toEqual({ ok: 1, failed: [], oldLeaf: [], skipped: 0 });
    const recorded = ((await call(app.deps, 'GET', '/links/mysql')).body as any).probe;
    expect(recorded).toMatchObject({ outcome: 'ok', current: true });

    const linkBefore = ((await call(app.deps, 'GET', '/links/mysql')).body as any).updatedAt;
    await sweep(app.deps, queue);
    expect(((await call(app.deps, 'GET', '/links/mysql')).body as any).updatedAt).toBe(linkBefore);

    await closeServers();
    const third = await sweep(app.deps, queue);
    expect(third.probes!.failed).toEqual([{ link: 'mysql', error: expect.stringMatching(/^refused: /) }]);
    expect(((await call(app.deps, 'GET', '/links/mysql')).body as any).probe).toMatchObject({ outcome: 'error', error: { kind: 'refused' } });
  });

  it('costs no metadata read beyond the listing: one payload access a link (its client credential; the spec is in the listing), a write only for a changed verdict', async () => {
    const app = testApp();
    const names = ['a', 'b', 'c'];
    for (const [i, name] of names.entries()) {
      await applyLink(app.deps, specInput({ server: { cluster: 'server-cluster', service: `${name}.default.svc.cluster.local`, port: 3306, address: '203.0.113.7', gatewayPort: 20001 + i } }, name));
    }
    app.deps.prober = { probe: async () => ({ ok: false, error: { kind: 'refused', message: 'ECONNREFUSED' }, latencyMs: 1 }) };
    const idle = { enqueue: async () => {} };
    const cost = async () => {
      const before = { ...app.store.calls, reads: app.store.metadataReads, accesses: app.store.payloadReads, writes: app.store.writes };
      const report = await sweep(app.deps, idle);
      return { report, reads: app.store.metadataReads - before.reads, accesses: app.store.payloadReads - before.accesses, writes: app.store.writes - before.writes };
    };
    const first = await cost();
    expect(first.report.probes!.failed.map((f) => f.link)).toEqual(names);
    expect(first).toMatchObject({ reads: 1, accesses: names.length, writes: names.length });
    expect(await cost()).toMatchObject({ reads: 1, accesses: names.length, writes: 0 });
  });

  it('MESHLINK_PROBE=off: the sweep probes nothing (POST :probe still runs)', async () => {
    const app = await localApp({ MESHLINK_PROBE: 'off' });
    await gatewayServer(await app.serverSecret(), app.gatewayPort);
    const report = await sweep(app.deps, new InProcessRotationQueue(app.deps));
    expect(report.probes).toBeUndefined();
    expect(((await call(app.deps, 'GET', '/links/mysql')).body as any).probe).toBeUndefined();
    expect((await call(app.deps, 'POST', '/links/mysql:probe')).body).toMatchObject({ outcome: 'ok' });
  });
});

describe('probe targets', () => {
  /** The in-memory app at real time with the node:tls prober. */
  function memoryApp() {
    const app = testApp({ start: new Date().toISOString() });
    app.deps.prober = new TlsProber();
    return app;
  }

  it("a partner's server (server.external): dialled at its address with the partner CA, its certificate recorded", async () => {
    const app = memoryApp();
    const port = await closedPort();
    const sans = ['spiffe://partner.example/db'];
    await applyLink(app.deps, specInput({ server: { external: { address: LOOPBACK, port, caCertificates: partner.ca.pem, subjectAltNames: sans } } }));
    const leaf = partner.leaf('partner-server', ['DNS:db.partner.example', `URI:${sans[0]}`]);
    await opensslServer({ cert: leaf.pem, key: await readFile(leaf.key, 'utf8'), ca: await linkCaBundle(app.deps, 'mysql') }, port);
    const result = await probeLink(app.deps, 'mysql');
    expect(result).toMatchObject({ outcome: 'ok', partner: true, target: `${LOOPBACK}:${port}` });
    expect(result.served!.subject).toMatch(/partner-server/);
    expect(result.current).toBeUndefined();
  });

  it("a partner's client (client.external): skipped, no credential of ours to present", async () => {
    const app = memoryApp();
    await applyLink(app.deps, specInput({ client: { external: { caCertificates: partner.ca.pem, subjectAltNames: ['spiffe://partner.example/app'] } } }));
    expect(await probeLink(app.deps, 'mysql')).toMatchObject({ outcome: 'skipped', reason: expect.stringMatching(/partner/) });
  });

  it('no ingress address known: skipped, and the sweep records nothing for a link never probed', async () => {
    const app = memoryApp();
    await applyLink(app.deps, specInput());
    const report = await sweep(app.deps, new InProcessRotationQueue(app.deps));
    expect(report.probes).toEqual({ ok: 0, failed: [], oldLeaf: [], skipped: 1 });
    expect((await call(app.deps, 'GET', '/links/mysql')).body).not.toHaveProperty('probe');
    expect(await probeLink(app.deps, 'mysql')).toMatchObject({ outcome: 'skipped', reason: expect.stringMatching(/no ingress address/) });
  });

  it('a link held by a rotating worker: the result is answered but not written (the worker keeps its etag)', async () => {
    const app = memoryApp();
    await applyLink(app.deps, specInput({ server: { cluster: 'server-cluster', service: 'mysql.default.svc.cluster.local', port: 3306, address: LOOPBACK, gatewayPort: await closedPort() } }));
    const secretId = 'meshlink-mysql-link';
    const meta = await app.store.getSecret(secretId);
    const state = JSON.parse(meta.annotations['meshlink-state']!);
    await app.store.updateAnnotations(secretId, { ...meta.annotations, 'meshlink-state': JSON.stringify({ ...state, lease: { holder: 'other', until: new Date(Date.now() + 60_000).toISOString() } }) }, meta.etag);
    const held = await app.store.getSecret(secretId);
    expect(await probeLink(app.deps, 'mysql')).toMatchObject({ outcome: 'error', error: { kind: 'refused' } });
    expect((await app.store.getSecret(secretId)).etag).toBe(held.etag);
  });
});
