// End-to-end: links under a Google CA Service pool, on the embedded defaults (local file store,
// local cluster directories) composed from the environment, the real CA Service client talking
// gRPC to the local fake (MESHLINK_CAS_ENDPOINT). The leaves are issued by the pool from
// meshlink's CSRs, carry bytes through the loopback egress and ingress with the pool's root as the
// only anchor, stay apart from another link's under the same pool (the pins), and renew via the
// pool while traffic flows.
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handleApiRequest, type Route } from '../../functions/http-api.js';
import { makeRotationRoutes } from '../../functions/rotation.js';
import type { AppDeps } from '../../shared/app/deps.js';
import { localClusterDir } from '../../shared/clusters/resolver.js';
import { composeApp } from '../../shared/compose.js';
import { parseConfig } from '../../shared/config.js';
import { credentialName, sideIdentity, storeSecretId, type Side } from '../../shared/link/names.js';
import { memoryLogger } from '../support/log.js';
import { splitPemBundle } from '../../shared/pki/inspect.js';
import type { SdsCredential } from '../../shared/pki/types.js';
import { specInput, withField } from '../support/builders.js';
import { clientTlsOptions, roundTrip, secretFromDirectory, startDataPlane, tlsRoundTrip, type DataPlane } from '../support/dataplane.js';
import { startFakeCas, type FakeCas } from '../fakes/cas-server.js';

const POOL = 'projects/acme-pki/locations/europe-west1/caPools/mesh';
const HOST = 'mysql.link.example.com';
const NAMESPACE = 'istio-system';
let fake: FakeCas;
const planes: DataPlane[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  fake = await startFakeCas();
  await fake.addPool(POOL);
});

afterAll(async () => {
  await fake.close();
});

afterEach(async () => {
  await Promise.all(planes.splice(0).map((p) => p.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function localApp(): Promise<{ deps: AppDeps; stateDir: string }> {
  const stateDir = await mkdtemp(join(tmpdir(), 'meshlink-cas-'));
  dirs.push(stateDir);
  const config = parseConfig({ MESHLINK_STATE_DIR: stateDir, MESHLINK_CAS_ENDPOINT: `plaintext://127.0.0.1:${fake.port}` });
  return { deps: await composeApp(config, { workerId: 'e2e', log: memoryLogger() }), stateDir };
}

const routes: Route[] = makeRotationRoutes(async () => {
  throw new Error('no sweep in this test');
});

async function call(deps: AppDeps, method: string, path: string, body?: unknown) {
  const res = await handleApiRequest(deps, { method, path, contentType: 'application/json', body: Buffer.from(body === undefined ? '' : JSON.stringify(body)) }, routes);
  return { status: res.status, body: res.body as Record<string, any> };
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase();
const cn = (pem: string) => /CN=[^\n]*/.exec(new X509Certificate(pem).subject)?.[0];

/** The issuer `pki` on the pool, links mysql and pg under it, and a data plane for mysql. */
async function twoLinksUnderOnePool() {
  const { deps, stateDir } = await localApp();
  const put = await call(deps, 'PUT', '/issuers/pki', { type: 'cas', caPool: POOL });
  expect(put.status, JSON.stringify(put.body)).toBe(201);
  const created = [];
  for (const input of [specInput({ issuer: 'pki' }), withField(specInput({ issuer: 'pki' }, 'pg'), 'server.gatewayPort', 15432)]) {
    const res = await call(deps, 'POST', '/links', input);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    created.push(res.body);
  }
  const secrets = (link: string): Record<Side, () => Promise<SdsCredential>> => ({
    client: secretFromDirectory(localClusterDir(stateDir, 'client-cluster'), NAMESPACE, credentialName(link, 'client')),
    server: secretFromDirectory(localClusterDir(stateDir, 'server-cluster'), NAMESPACE, credentialName(link, 'server')),
  });
  const mysql = secrets('mysql');
  const pg = secrets('pg');
  const dp = await startDataPlane({ host: HOST, link: 'mysql', clientSecret: mysql.client, serverSecret: mysql.server });
  planes.push(dp);
  return { deps, stateDir, mysql, pg, dp, put: put.body, status: created[0]! };
}

describe('a link under a CA Service pool', () => {
  it('carries bytes with the pool root as the only anchor; the leaves are the pool\'s, no link CA or key of its own', async () => {
    const issuedBefore = fake.issued.size;
    const { deps, mysql, dp, put, status } = await twoLinksUnderOnePool();
    const root = fake.pool(POOL).cas[0]!.root;
    expect(put).toMatchObject({ name: 'pki', type: 'cas', caPool: POOL, roots: [{ fingerprint: fingerprint(root), subject: 'CN=Fake CAS Root 1, O=Example Bank' }], links: [] });
    expect(status.issuer).toEqual({ name: 'pki', rootFingerprints: [fingerprint(root)] });
    // Four leaves (two links, two sides), each from a CSR: the pool never saw a key.
    expect(fake.issued.size - issuedBefore).toBe(4);
    expect(JSON.stringify(fake.requests)).not.toMatch(/PRIVATE KEY/);

    const payload = randomBytes(4096);
    expect((await roundTrip(dp.egressPort, payload)).equals(payload)).toBe(true);
    expect(dp.stats).toMatchObject({ handshakesOk: 1, handshakeFailures: 0, failures: [] });
    for (const side of ['client', 'server'] as const) {
      const secret = await mysql[side]();
      expect(splitPemBundle(secret['ca.crt']).map(fingerprint)).toEqual([fingerprint(root)]);
      // leaf and the pool's issuing CA; never the root.
      expect(splitPemBundle(secret['tls.crt']).map(cn)).toEqual([`CN=${HOST}`, 'CN=Fake CAS Issuing CA 1']);
    }
    // The generation the state records is the pool's roots: its store version holds no key.
    const caSecret = storeSecretId('meshlink', 'mysql', 'ca');
    for (const v of await deps.store.listVersions(caSecret)) {
      if (v.state === 'ENABLED') expect(new TextDecoder().decode((await deps.store.accessVersion(caSecret, v.version)).payload)).not.toMatch(/PRIVATE KEY|tls\.key/);
    }
    expect((await call(deps, 'GET', '/issuers/pki')).body.links).toEqual(['mysql', 'pg']);
  });

  it("link A's gateway refuses link B's client, and its egress link B's server (one pool: the pins keep links apart)", async () => {
    const { mysql, pg, dp } = await twoLinksUnderOnePool();
    const outcome = await tlsRoundTrip(dp.ingressPort, clientTlsOptions(await pg.client(), HOST), randomBytes(64)).then(
      () => 'accepted',
      (err: Error) => `refused: ${err.message}`,
    );
    expect(outcome).toMatch(/^refused/);
    expect(await dp.failureMatching(/^ingress: /)).toContain(`does not include ${sideIdentity(HOST, 'mysql', 'client')}`);
    const serverSwapped = await startDataPlane({ host: HOST, link: 'mysql', clientSecret: mysql.client, serverSecret: pg.server });
    planes.push(serverSwapped);
    await roundTrip(serverSwapped.egressPort, randomBytes(64)).catch(() => undefined);
    expect(await serverSwapped.failureMatching(/^egress: /)).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    expect(dp.stats.handshakesOk + serverSwapped.stats.handshakesOk).toBe(0);
  });

  it('renews both leaves via the pool (a forced leaf rotation) while connections keep working', async () => {
    const { deps, mysql, dp } = await twoLinksUnderOnePool();
    const before = { client: (await mysql.client())['tls.crt'], server: (await mysql.server())['tls.crt'] };
    const issuedBefore = fake.issued.size;
    const rotated = await call(deps, 'POST', '/links/mysql:rotate', { scope: 'leaf' });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    expect(fake.issued.size - issuedBefore).toBe(2);
    for (const side of ['client', 'server'] as const) expect((await mysql[side]())['tls.crt']).not.toBe(before[side]);
    const payload = randomBytes(1024);
    expect((await roundTrip(dp.egressPort, payload)).equals(payload)).toBe(true);
    expect(dp.stats.handshakeFailures).toBe(0);
  });

  it('DELETE /issuers/pki is a 409 while links use it, a 204 once they are gone', async () => {
    const { deps } = await twoLinksUnderOnePool();
    const refused = await call(deps, 'DELETE', '/issuers/pki');
    expect(refused.status).toBe(409);
    expect(refused.body.details).toEqual([{ path: 'name', message: 'used by mysql, pg' }]);
    for (const link of ['mysql', 'pg']) expect((await call(deps, 'DELETE', `/links/${link}`)).status).toBe(204);
    expect((await call(deps, 'DELETE', '/issuers/pki')).status).toBe(204);
    expect((await call(deps, 'GET', '/issuers/pki')).status).toBe(404);
  });
});
