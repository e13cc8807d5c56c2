// Secret Manager quota errors across whole use-cases, through the real client against the
// wire-level fake: the write cost of a link creation and of a forced leaf rotation (per RPC), and
// a quota error injected at every write. Retried within the budget, the operation completes as if
// nothing happened; past the budget, the HTTP answer is 503 with Retry-After, the worker nacks,
// and the link is either as before or completed by the next request. With the claims in a Cloud
// Storage bucket (the fake), a create costs two Secret Manager writes fewer, and a quota error on
// the bucket is retried the same way.
import { afterEach, describe, expect, it } from 'vitest';
import { handleApiRequest, type ApiRequest } from '../../functions/http-api.js';
import { handleRotateLinkEvent, makeRotationRoutes } from '../../functions/rotation.js';
import { DEFAULT_SETTINGS, type AppDeps } from '../../shared/app/deps.js';
import { manualClock } from '../support/clock.js';
import { isMeshlinkError } from '../../shared/errors.js';
import { memoryLogger } from '../support/log.js';
import { listAllSecrets } from '../../shared/store/port.js';
import type { RetryPolicy } from '../../shared/store/retry.js';
import { SecretManagerStore } from '../../shared/store/secret-manager-store.js';
import { startFakeSecretManager, type FakeSecretManager, type GrpcStatusName } from '../fakes/secret-manager-server.js';
import { largeSpecInput, specInput } from '../support/builders.js';
import { MemoryClusters } from '../support/memory-clusters.js';
import { simulatedTiming } from '../support/simulated-timing.js';
import { CloudStorageClaims } from '../../shared/store/claims/cloud-storage-claims.js';
import { startFakeCloudStorage, type FakeCloudStorage } from '../fakes/cloud-storage-server.js';

const BUCKET = 'meshlink-claims-quota';

const WRITE_RPCS = ['CreateSecret', 'UpdateSecret', 'DeleteSecret', 'AddSecretVersion', 'DisableSecretVersion', 'EnableSecretVersion', 'DestroySecretVersion'];
const DAY = 86_400_000;

interface QuotaApp {
  fake: FakeSecretManager;
  /** The claims' bucket, when the app keeps them in one. */
  bucket?: FakeCloudStorage;
  store: SecretManagerStore;
  deps: AppDeps;
  clock: ReturnType<typeof manualClock>;
}

const open: QuotaApp[] = [];
afterEach(async () => {
  for (const app of open.splice(0)) {
    await app.store.close();
    await app.fake.close();
    await app.bucket?.close();
  }
});

async function quotaApp(retry: Partial<RetryPolicy> = {}, options: { bucket?: boolean } = {}): Promise<QuotaApp> {
  const clock = manualClock('2026-11-23T10:00:00Z');
  const fake = await startFakeSecretManager({ clock });
  const store = new SecretManagerStore({ project: fake.project, apiEndpoint: '127.0.0.1', port: fake.port, plaintext: true, retry, timing: simulatedTiming() });
  const bucket = options.bucket ? await startFakeCloudStorage({ buckets: [BUCKET], clock }) : undefined;
  const claims = bucket && new CloudStorageClaims({ bucket: BUCKET, apiEndpoint: bucket.url, retry, timing: simulatedTiming() });
  const deps: AppDeps = { store, ...(claims ? { claims } : {}), clusters: new MemoryClusters(), clock, log: memoryLogger(), settings: DEFAULT_SETTINGS, workerId: 'quota-test' };
  const app = { fake, store, deps, clock, ...(bucket ? { bucket } : {}) };
  open.push(app);
  return app;
}

function writesByRpc(fake: FakeSecretManager, since: Record<string, number> = {}): Record<string, number> {
  return Object.fromEntries(WRITE_RPCS.map((m) => [m, (fake.calls[m] ?? 0) - (since[m] ?? 0)]).filter(([, n]) => n !== 0));
}
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** Fails every write RPC from the `k`-th on (1-based) with `status`; `times` failures in all. */
function quotaAtWrite(fake: FakeSecretManager, k: number, times: number, status: GrpcStatusName = 'RESOURCE_EXHAUSTED'): void {
  let seen = 0;
  let failed = 0;
  fake.injectFailures((method) => {
    if (!WRITE_RPCS.includes(method)) return undefined;
    seen++;
    if (seen >= k && failed < times) {
      failed++;
      return status;
    }
    return undefined;
  });
}

const post = (path: string, body: unknown): ApiRequest => ({ method: 'POST', path, contentType: 'application/json', body: Buffer.from(JSON.stringify(body)) });
const routes = makeRotationRoutes(async () => ({ publish: async () => {} }) as never);
const request = (app: QuotaApp, req: ApiRequest) => handleApiRequest(app.deps, req, routes);

/** What the store holds: each secret's versions and their states, the link record's spec versions included. */
async function storeShape(app: QuotaApp) {
  const secrets: Record<string, string[]> = {};
  for await (const s of listAllSecrets(app.store, { labels: {} })) {
    secrets[s.id] = (await app.store.listVersions(s.id)).map((v) => `${v.version}:${v.state}`);
  }
  return secrets;
}

async function linkStatus(app: QuotaApp) {
  const res = await request(app, { method: 'GET', path: '/links/mysql', body: Buffer.alloc(0) });
  const body = res.body as { phase: string; ca: unknown[]; client: { sync: { status: string }; fingerprint: string }; server: { sync: { status: string }; fingerprint: string } };
  return { status: res.status, phase: body.phase, cas: body.ca?.length, sync: [body.client?.sync.status, body.server?.sync.status] };
}

describe('write cost on Secret Manager (per RPC)', () => {
  it('measures a link creation and a forced leaf rotation', async () => {
    const app = await quotaApp();
    expect((await request(app, post('/links', specInput()))).status).toBe(201);
    const create = writesByRpc(app.fake);
    const before = { ...app.fake.calls };
    expect((await request(app, post('/links/mysql:rotate', { scope: 'leaf' }))).status).toBe(200);
    const rotation = writesByRpc(app.fake, before);
    const accesses = (app.fake.calls['AccessSecretVersion'] ?? 0) - (before['AccessSecretVersion'] ?? 0);
    expect((await request(app, { method: 'GET', path: '/links/mysql', body: Buffer.alloc(0) })).status).toBe(200);
    console.log(JSON.stringify({ create, createWrites: total(create), rotation, rotationWrites: total(rotation), rotationPayloadReads: accesses }));
    // Measured before this budget: create 16 (5 CreateSecret, 7 UpdateSecret, 4 AddSecretVersion);
    // forced leaf rotation 12 (2 CreateSecret refused as existing, 8 UpdateSecret, 2 AddSecretVersion).
    // The host claim (one host per client cluster) added one CreateSecret: 17. Now the lease is
    // taken with the record's creation, the versions are recorded in one save with the sync
    // results and the lease release: 2 claims, the link record, its spec, the CA secret and
    // version, each leaf's secret and version, one metadata update (11). The spec became an
    // annotation written by that update (10); the record is now created last, once, with its
    // complete state and spec, the creation's lease held by the CA secret's CreateSecret: 9, the
    // floor with six secrets and three versions (docs/architecture.md; the budget is 8),
    // and 7 with the claims in a Cloud Storage bucket (below).
    expect(create).toEqual({ CreateSecret: 6, AddSecretVersion: 3 });
    // The spec comes with the link's metadata: neither the rotation nor a GET reads a payload of the link secret.
    expect(app.fake.requests.filter((r) => r.method === 'AccessSecretVersion' && String(r.request.name).includes('/secrets/meshlink-mysql-link/'))).toEqual([]);
    // One new version per credential, no CreateSecret for secrets the state names; the force
    // recorded with the lease; the new versions, sync results and the force's end saved with the
    // lease release: 2 writes per credential rotated.
    expect(rotation).toEqual({ AddSecretVersion: 2, UpdateSecret: 2 });
  });
});

/** Object writes on the claims' bucket, per JSON API method. */
function objectWrites(app: QuotaApp): Record<string, number> {
  const calls = app.bucket?.calls ?? {};
  return Object.fromEntries((['objects.insert', 'objects.delete'] as const).filter((m) => calls[m]).map((m) => [m, calls[m]!]));
}

describe('write cost on Secret Manager with the claims in a Cloud Storage bucket', () => {
  it('is 7 writes a create (the two claims are objects) and 2 fewer DeleteSecrets a delete', async () => {
    const app = await quotaApp({}, { bucket: true });
    expect((await request(app, post('/links', specInput()))).status).toBe(201);
    const create = writesByRpc(app.fake);
    const createObjects = objectWrites(app);
    const reads = app.fake.calls['GetSecret'] ?? 0;
    const before = { ...app.fake.calls };
    expect((await request(app, { method: 'DELETE', path: '/links/mysql', body: Buffer.alloc(0) })).status).toBeLessThan(300);
    const del = writesByRpc(app.fake, before);
    console.log(JSON.stringify({ create, createWrites: total(create), createObjects, getSecretPerCreate: reads, delete: del, deleteObjects: objectWrites(app) }));
    // Four secrets (the CA, each credential, the record) and three versions; the claims are two
    // objects created only if absent. Checking them read each object and, absent, the claim
    // secret an older deployment may have left (the metadata reads of a create without a bucket).
    expect(create).toEqual({ CreateSecret: 4, AddSecretVersion: 3 });
    expect(createObjects).toEqual({ 'objects.insert': 2 });
    // The lease taken and given back, the four secrets deleted; the claims are two object deletes.
    expect(del).toEqual({ UpdateSecret: 2, DeleteSecret: 4 });
    expect(objectWrites(app)).toEqual({ 'objects.insert': 2, 'objects.delete': 2 });
    expect(app.bucket!.objects(BUCKET).size).toBe(0);
  });

  it('keeps 9 without a bucket (and 2 more DeleteSecrets a delete), and the same Secret Manager metadata reads with one', async () => {
    const [without, withBucket] = [await quotaApp(), await quotaApp({}, { bucket: true })];
    for (const app of [without, withBucket]) expect((await request(app, post('/links', specInput()))).status).toBe(201);
    expect(total(writesByRpc(without.fake))).toBe(9);
    expect(total(writesByRpc(withBucket.fake))).toBe(7);
    expect(withBucket.fake.calls['GetSecret']).toBe(without.fake.calls['GetSecret']);
    const before = [{ ...without.fake.calls }, { ...withBucket.fake.calls }];
    for (const app of [without, withBucket]) await request(app, { method: 'DELETE', path: '/links/mysql', body: Buffer.alloc(0) });
    expect(writesByRpc(without.fake, before[0])).toEqual({ UpdateSecret: 2, DeleteSecret: 6 });
    expect(writesByRpc(withBucket.fake, before[1])).toEqual({ UpdateSecret: 2, DeleteSecret: 4 });
  });
});

describe('a quota error on the claims\' bucket during a create', async () => {
  const baseline = await quotaApp({}, { bucket: true });
  await request(baseline, post('/links', specInput()));
  const shape = await storeShape(baseline);
  const objects = [...baseline.bucket!.objects(BUCKET).keys()];
  const status = await linkStatus(baseline);
  await baseline.store.close();
  await baseline.fake.close();
  await baseline.bucket!.close();
  open.splice(open.indexOf(baseline), 1);

  /** Fails every bucket call from the `k`-th object write on (1-based) with `status`, `times` failures in all. */
  function quotaAtObjectWrite(bucket: FakeCloudStorage, k: number, times: number, statusCode: number): void {
    let seen = 0;
    let failed = 0;
    bucket.injectFailures((op) => {
      if (op === 'objects.insert') seen++;
      if (seen >= k && failed < times) {
        failed++;
        return statusCode;
      }
      return undefined;
    });
  }

  it.each([
    [1, 429],
    [2, 429],
    [1, 503],
    [2, 503],
  ])('at claim write %i, %i twice: retried, the link is created exactly as without it', async (k, code) => {
    const app = await quotaApp({}, { bucket: true });
    quotaAtObjectWrite(app.bucket!, k, 2, code);
    expect((await request(app, post('/links', specInput()))).status).toBe(201);
    expect(await storeShape(app)).toEqual(shape);
    expect([...app.bucket!.objects(BUCKET).keys()]).toEqual(objects);
    expect(await linkStatus(app)).toEqual(status);
  });

  it('an object create whose answer was lost (503 after it was made) is our own claim, not another link\'s', async () => {
    const app = await quotaApp({}, { bucket: true });
    app.bucket!.failAfterNext('objects.insert', 503);
    expect((await request(app, post('/links', specInput()))).status).toBe(201);
    expect(await storeShape(app)).toEqual(shape);
    expect([...app.bucket!.objects(BUCKET).keys()]).toEqual(objects);
  });

  it.each([1, 2])('at claim write %i past the budget: 503 with Retry-After, nothing after it written, then the same request completes it', async (k) => {
    const app = await quotaApp({ maxRetries: 2 }, { bucket: true });
    quotaAtObjectWrite(app.bucket!, k, Infinity, 429);
    const refused = await request(app, post('/links', specInput()));
    expect(refused.status).toBe(503);
    expect(Number(refused.headers?.['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(total(writesByRpc(app.fake))).toBe(0); // the claims come first
    app.bucket!.injectFailures(undefined);
    expect((await request(app, post('/links', specInput()))).status).toBe(201);
    expect(await storeShape(app)).toEqual(shape);
    expect([...app.bucket!.objects(BUCKET).keys()]).toEqual(objects);
    expect(await linkStatus(app)).toEqual(status);
  });
});

describe('write cost of a link whose spec is over the annotation budget', () => {
  it('is two writes more: its version, and the record made for it first then initialised', async () => {
    const app = await quotaApp();
    const large = await largeSpecInput(app.clock());
    expect((await request(app, post('/links', large))).status).toBe(201);
    // One-sided (the partner runs the server): the host claim, the CA's and the client's secret
    // and version, the record: 6 with a spec in the annotation.
    expect(writesByRpc(app.fake)).toEqual({ CreateSecret: 4, AddSecretVersion: 3, UpdateSecret: 1 });
  });
});

describe('two creates of one name at once on Secret Manager', () => {
  it('make one CA and one version per secret, as one create does', async () => {
    const one = await quotaApp();
    await request(one, post('/links', specInput()));
    const app = await quotaApp();
    const other = { ...app.deps, workerId: 'other-worker' };
    const answers = await Promise.all([request(app, post('/links', specInput())), handleApiRequest(other, post('/links', specInput()), routes)]);
    expect(answers.map((a) => a.status).sort()).toEqual(expect.arrayContaining([201]));
    for (const a of answers) expect([200, 201, 409]).toContain(a.status);
    expect(await storeShape(app)).toEqual(await storeShape(one));
  });
});

describe('a quota error at every write of a link creation', async () => {
  const baseline = await quotaApp();
  await request(baseline, post('/links', specInput()));
  const writes = total(writesByRpc(baseline.fake));
  const shape = await storeShape(baseline);
  const status = await linkStatus(baseline);
  await baseline.store.close();
  await baseline.fake.close();
  open.splice(open.indexOf(baseline), 1);

  it('has writes to enumerate and ends complete', () => {
    expect(writes).toBeGreaterThan(4);
    expect(status).toEqual({ status: 200, phase: 'stable', cas: 1, sync: ['synced', 'synced'] });
  });

  it.each(Array.from({ length: writes }, (_, i) => i + 1))('quota at write %i, twice: retried, the link is created exactly as without it', async (k) => {
    const app = await quotaApp();
    quotaAtWrite(app.fake, k, 2);
    expect((await request(app, post('/links', specInput()))).status).toBe(201);
    expect(await storeShape(app)).toEqual(shape);
    expect(await linkStatus(app)).toEqual(status);
  });

  it.each(Array.from({ length: writes }, (_, i) => i + 1))('quota at write %i past the budget: 503 with Retry-After, then the same request completes it', async (k) => {
    const app = await quotaApp({ maxRetries: 2 });
    quotaAtWrite(app.fake, k, Infinity);
    const refused = await request(app, post('/links', specInput()));
    // The last write, the one save, records the versions with the sync and releases the lease.
    expect(refused.status).toBe(503);
    expect(Number(refused.headers?.['retry-after'])).toBeGreaterThanOrEqual(1);
    app.fake.clearFailures();
    // A lease the refused request could not release runs out: then the retry gets in.
    app.clock.advance(DEFAULT_SETTINGS.leaseMs + 1000);
    expect([200, 201]).toContain((await request(app, post('/links', specInput()))).status);
    expect(await storeShape(app)).toEqual(shape);
    expect(await linkStatus(app)).toEqual(status);
  });
});

describe('a quota error at every write of a forced leaf rotation', async () => {
  async function created(retry: Partial<RetryPolicy> = {}) {
    const app = await quotaApp(retry);
    await request(app, post('/links', specInput()));
    return app;
  }
  const baseline = await created();
  const before = { ...baseline.fake.calls };
  await request(baseline, post('/links/mysql:rotate', { scope: 'leaf' }));
  const writes = total(writesByRpc(baseline.fake, before));
  const shape = await storeShape(baseline);
  const status = await linkStatus(baseline);
  await baseline.store.close();
  await baseline.fake.close();
  open.splice(open.indexOf(baseline), 1);

  it.each(Array.from({ length: writes }, (_, i) => i + 1))('quota at write %i, twice: retried, rotated exactly as without it', async (k) => {
    const app = await created();
    quotaAtWrite(app.fake, k, 2, 'UNAVAILABLE');
    expect((await request(app, post('/links/mysql:rotate', { scope: 'leaf' }))).status).toBe(200);
    expect(await storeShape(app)).toEqual(shape);
    expect(await linkStatus(app)).toEqual(status);
  });

  it.each(Array.from({ length: writes }, (_, i) => i + 1))('quota at write %i past the budget: 503 with Retry-After, then the same request completes the rotation', async (k) => {
    const app = await created({ maxRetries: 1 });
    const forced = post('/links/mysql:rotate', { scope: 'leaf', requestId: 'r1' });
    const before = { ...app.fake.calls };
    quotaAtWrite(app.fake, k, Infinity);
    const refused = await request(app, forced);
    // The last write releases the lease with the new versions and the sync status: refused too,
    // the next run adopts the versions and finds the clusters current.
    expect(refused.status).toBe(503);
    expect(Number(refused.headers?.['retry-after'])).toBeGreaterThanOrEqual(1);
    // Nothing written behind the failure: the k-1 writes before it, the failing one and the lease
    // release, each tried twice (one retry), are all the calls made.
    expect(total(writesByRpc(app.fake, before))).toBeLessThanOrEqual(k - 1 + 2 + 2);
    app.fake.clearFailures();
    app.clock.advance(DEFAULT_SETTINGS.leaseMs + 1000);
    expect((await request(app, forced)).status).toBe(200);
    expect(await storeShape(app)).toEqual(shape);
    expect(await linkStatus(app)).toEqual(status);
  });
});

describe('the rotation worker on an exhausted quota', () => {
  it('throws unavailable so Pub/Sub redelivers', async () => {
    const app = await quotaApp({ maxRetries: 1 });
    await request(app, post('/links', specInput()));
    app.clock.advance(300 * DAY);
    app.fake.injectFailures((method) => (WRITE_RPCS.includes(method) ? 'RESOURCE_EXHAUSTED' : undefined));
    const event = { data: { message: { data: Buffer.from(JSON.stringify({ link: 'mysql', reason: 'due' })).toString('base64'), messageId: 'm1' } } };
    const err = await handleRotateLinkEvent(app.deps, event).catch((e: unknown) => e);
    expect(isMeshlinkError(err, 'unavailable')).toBe(true);
  });
});
