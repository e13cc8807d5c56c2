// Issuers of type cas (Google CA Service) through the API, in process, with the real CA Service
// client over gRPC to the local fake: the pool checked at PUT, its refusals as CA Service gives
// them, links whose leaves the pool issues, and what the pool may do that meshlink must refuse
// (drop the SANs the pins need, issue under a root the peers do not trust yet).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleApiRequest, type Route } from '../../functions/http-api.js';
import { makeRotationRoutes } from '../../functions/rotation.js';
import { rotateLink } from '../../shared/app/rotate.js';
import { PrivateCaService } from '../../shared/cas/private-ca-service.js';
import type { Clock } from '../../shared/clock.js';
import { credentialName, issuerSecretId } from '../../shared/link/names.js';
import { chainsToAny, splitPemBundle } from '../../shared/pki/inspect.js';
import { certificateFacts } from '../../shared/pki/issuer-bundle.js';
import { specInput } from '../support/builders.js';
import { storeWrites, testApp, type TestApp } from '../support/app.js';
import { startFakeCas, type FakeCas } from '../fakes/cas-server.js';
import { secretFromCluster } from '../support/dataplane.js';

const PROJECT = 'projects/acme-pki/locations/europe-west1/caPools';
let fake: FakeCas;
let cas: PrivateCaService;
/** The fake signs at the time of the app under test (each test has its own manual clock). */
let now: Clock = () => new Date();
let pools = 0;

beforeAll(async () => {
  fake = await startFakeCas({ clock: () => now() });
  cas = new PrivateCaService({ apiEndpoint: '127.0.0.1', port: fake.port, plaintext: true });
});

afterAll(async () => {
  await cas.close();
  await fake.close();
});

/** A test app on CA Service, and a fresh pool of its own (so a test may break it). */
async function app(): Promise<{ a: TestApp; pool: string }> {
  const a = testApp({ start: new Date(Date.now() + 60_000).toISOString() });
  a.deps.cas = cas;
  now = a.clock;
  const pool = `${PROJECT}/pool-${++pools}`;
  await fake.addPool(pool);
  return { a, pool };
}

const routes: Route[] = makeRotationRoutes(async () => {
  throw new Error('no sweep in this test');
});

async function call(a: TestApp, method: string, path: string, body?: unknown) {
  const res = await handleApiRequest(a.deps, { method, path, contentType: 'application/json', body: Buffer.from(body === undefined ? '' : JSON.stringify(body)) }, routes);
  return { status: res.status, body: res.body as Record<string, any> };
}

const putPool = (a: TestApp, caPool: string, name = 'pki') => call(a, 'PUT', `/issuers/${name}`, { type: 'cas', caPool });
const createLink = (a: TestApp, name = 'mysql') => call(a, 'POST', '/links', specInput({ issuer: 'pki' }, name));
const secret = (a: TestApp, side: 'client' | 'server') => secretFromCluster(a.clusters.target(`${side}-cluster`), 'istio-system', credentialName('mysql', side))();

describe('PUT /issuers/{name} of type cas', () => {
  it('checks the pool and answers its status: type, pool, roots, links; 200 and no write for the same again', async () => {
    const { a, pool } = await app();
    const res = await putPool(a, pool);
    expect(res.status).toBe(201);
    const root = certificateFacts(fake.pool(pool).cas[0]!.root);
    expect(res.body).toMatchObject({ name: 'pki', type: 'cas', caPool: pool, roots: [root], notAfter: root.notAfter, links: [] });
    expect(res.body.issuingCa).toBeUndefined();
    expect((await call(a, 'GET', '/issuers/pki')).body).toEqual(res.body);
    expect((await call(a, 'GET', '/issuers')).body).toEqual({ issuers: [res.body] });
    // Nothing of the pool is stored but its status: no version, no key.
    expect(await a.memory.listVersions(issuerSecretId('meshlink', 'pki'))).toEqual([]);
    const before = storeWrites(a.store);
    expect((await putPool(a, pool)).status).toBe(200);
    expect(storeWrites(a.store)).toBe(before);
  });

  it.each([
    ['a pool that does not exist (NOT_FOUND): 400', (_pool: string) => `${PROJECT}/missing`, 400, /not found/],
    ['a pool meshlink may not use (PERMISSION_DENIED): 403', (pool: string) => ((fake.pool(pool).denied = true), pool), 403, /roles\/privateca/],
  ])('refuses %s naming caPool, nothing written', async (_what, target, status, message) => {
    const { a, pool } = await app();
    const res = await putPool(a, target(pool));
    expect(res.status).toBe(status);
    expect(res.body.details).toEqual([{ path: 'caPool', message: expect.stringMatching(message) }]);
    expect(storeWrites(a.store)).toBe(0);
  });

  it('answers 503 when CA Service is out of quota or unavailable, nothing written', async () => {
    const { a, pool } = await app();
    fake.failNext('FetchCaCerts', 'RESOURCE_EXHAUSTED');
    expect((await putPool(a, pool)).status).toBe(503);
    expect(storeWrites(a.store)).toBe(0);
  });

  it('refuses another pool while links use the issuer: 409 naming caPool, the issuer as it was', async () => {
    const { a, pool } = await app();
    const { pool: other } = await app();
    now = a.clock;
    await putPool(a, pool);
    expect((await createLink(a)).status).toBe(201);
    const res = await putPool(a, other);
    expect(res.status).toBe(409);
    expect(res.body.details).toEqual([{ path: 'caPool', message: `pool ${other} differs from pool ${pool}, which links mysql trust` }]);
    expect((await call(a, 'GET', '/issuers/pki')).body).toMatchObject({ caPool: pool, links: ['mysql'] });
  });
});

describe('a link under a CA pool', () => {
  it('gets leaves the pool issued from its CSRs, for the spec\'s lifetime, the root as ca.crt', async () => {
    const { a, pool } = await app();
    await putPool(a, pool);
    const res = await createLink(a);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const root = fake.pool(pool).cas[0]!.root;
    for (const side of ['client', 'server'] as const) {
      const s = secret(a, side);
      expect(s['ca.crt']).toBe(root);
      expect(chainsToAny(s['tls.crt'], root)).toBe(true);
      expect(res.body[side]).toMatchObject({ notAfter: new Date(a.clock().getTime() + 30 * 86_400_000 - (a.clock().getTime() % 1000)).toISOString() });
    }
    const issued = fake.requests.filter((r) => r.method === 'CreateCertificate' && r.request.parent === pool);
    expect(issued.map((r) => Number(r.request.certificate.lifetime.seconds))).toEqual([30 * 86_400, 30 * 86_400]);
    expect(issued.map((r) => r.request.certificateId)).toEqual([expect.stringMatching(/^mysql-(server|client)-[0-9a-f]{12}$/), expect.stringMatching(/^mysql-(server|client)-[0-9a-f]{12}$/)]);
  });

  it('answers 503 when the pool is out of quota, and the same POST completes the link once it is not', async () => {
    const { a, pool } = await app();
    await putPool(a, pool);
    fake.pool(pool).quota = 1; // the first leaf, not the second
    expect((await createLink(a)).status).toBe(503);
    delete fake.pool(pool).quota;
    const retried = await createLink(a);
    expect(retried.status, JSON.stringify(retried.body)).toBe(201); // no record before it: the retry creates the link, adopting what the first stored
    expect(retried.body.client.fingerprint).toBeDefined();
    expect(retried.body.server.fingerprint).toBeDefined();
  });

  it('is a 400 naming issuer, leaving no trace, when the pool drops the SANs the pins need', async () => {
    const { a, pool } = await app();
    await putPool(a, pool);
    fake.pool(pool).dropSans = true;
    const res = await createLink(a);
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ path: 'issuer', message: expect.stringMatching(/without the SANs asked .*issuance policy/) }]);
    expect((await call(a, 'GET', '/links/mysql')).status).toBe(404);
    expect((await call(a, 'GET', '/issuers/pki')).body.links).toEqual([]);
  });

  it('asks a CA under the link\'s roots when the pool issues under a new root, and takes the new root with a CA rollover', async () => {
    const { a, pool } = await app();
    await putPool(a, pool);
    expect((await createLink(a)).status).toBe(201);
    const oldRoot = fake.pool(pool).cas[0]!.root;
    const newRoot = (await fake.addCa(pool, { issue: true })).root;

    // The pool now issues under a root the peers do not trust: the renewed leaves are asked of the old CA.
    const leaf = await call(a, 'POST', '/links/mysql:rotate', { scope: 'leaf' });
    expect(leaf.status, JSON.stringify(leaf.body)).toBe(200);
    const explicit = fake.requests.filter((r) => r.method === 'CreateCertificate' && r.request.parent === pool && r.request.issuingCertificateAuthorityId);
    expect(explicit.map((r) => r.request.issuingCertificateAuthorityId)).toEqual(['ca-1', 'ca-1']);
    for (const side of ['client', 'server'] as const) {
      expect(secret(a, side)['ca.crt']).toBe(oldRoot);
      expect(chainsToAny(secret(a, side)['tls.crt'], oldRoot)).toBe(true);
    }

    // A CA rollover: the new generation is the pool's roots (old and new), trusted by both sides
    // before any leaf is issued under it; at its end both roots are the anchors.
    const ca = await call(a, 'POST', '/links/mysql:rotate', { scope: 'ca' });
    expect([200, 202], JSON.stringify(ca.body)).toContain(ca.status);
    for (let i = 0; i < 10 && (await call(a, 'GET', '/links/mysql')).body.phase !== 'stable'; i++) {
      a.clock.advance(5 * 60_000);
      await rotateLink(a.deps, 'mysql');
    }
    const after = await call(a, 'GET', '/links/mysql');
    expect(after.body).toMatchObject({ phase: 'stable', issuer: { name: 'pki' } });
    expect(after.body.issuer.rootFingerprints.sort()).toEqual([certificateFacts(oldRoot).fingerprint, certificateFacts(newRoot).fingerprint].sort());
    for (const side of ['client', 'server'] as const) {
      const s = secret(a, side);
      expect(splitPemBundle(s['ca.crt']).sort()).toEqual([oldRoot, newRoot].sort());
      expect(chainsToAny(s['tls.crt'], newRoot)).toBe(true);
    }
  });

  it('refuses a renewal (503 saying how to go on) when no enabled CA of the pool is under the link\'s roots, the Secrets untouched', async () => {
    const { a, pool } = await app();
    await putPool(a, pool);
    expect((await createLink(a)).status).toBe(201);
    const before = { client: secret(a, 'client'), server: secret(a, 'server') };
    await fake.addCa(pool, { issue: true });
    fake.pool(pool).cas[0]!.enabled = false;
    const leaf = await call(a, 'POST', '/links/mysql:rotate', { scope: 'leaf' });
    expect(leaf.status).toBe(503);
    expect(leaf.body.error).toMatch(/under a root the link does not trust yet.*enable one, or roll the link's CA over/);
    expect({ client: secret(a, 'client'), server: secret(a, 'server') }).toEqual(before);
  });
});
