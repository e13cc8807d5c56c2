// The Cloud Storage claims adapter through the real @google-cloud/storage client against the
// wire-level fake: create only if absent, read, delete at a generation; errors as port codes; 429
// and 503 retried, and a retried write whose first answer was lost not mistaken for another's.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { CloudStorageClaims } from '../../shared/store/claims/cloud-storage-claims.js';
import type { Claim, ClaimStore } from '../../shared/store/claims/port.js';
import { isMeshlinkError, MeshlinkError } from '../../shared/errors.js';
import { manualClock } from '../support/clock.js';
import { simulatedTiming } from '../support/simulated-timing.js';
import { startFakeCloudStorage, type FakeCloudStorage } from '../fakes/cloud-storage-server.js';

const BUCKET = 'meshlink-claims-test';
const META = { labels: { 'managed-by': 'meshlink', 'meshlink-link': 'mysql', 'meshlink-role': 'port-claim' }, annotations: { 'meshlink-claim': '{"cluster":"server-cluster","port":13306}' } };
const other = (link: string) => ({ ...META, labels: { ...META.labels, 'meshlink-link': link } });

const open: FakeCloudStorage[] = [];
afterEach(async () => {
  for (const fake of open.splice(0)) await fake.close();
});

async function setup(retry: { totalMs?: number } = {}) {
  const clock = manualClock('2026-11-23T10:00:00Z');
  const fake = await startFakeCloudStorage({ buckets: [BUCKET], clock });
  open.push(fake);
  const timing = simulatedTiming();
  const claims = new CloudStorageClaims({ bucket: BUCKET, apiEndpoint: fake.url, retry, timing });
  return { fake, claims, clock, timing };
}

const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err);
const holder = async (claims: ClaimStore, id = 'meshlink-port-1') => (await claims.read(id))?.labels['meshlink-link'];

describe('Cloud Storage claims', () => {
  it('makes a claim with its labels and annotations as object metadata, in one multipart upload with ifGenerationMatch=0', async () => {
    const { fake, claims } = await setup();
    await claims.create('meshlink-port-1', META);
    const read = await claims.read('meshlink-port-1');
    expect(read).toEqual({ id: 'meshlink-port-1', labels: { ...META.labels, ...META.annotations }, createTime: '2026-11-23T10:00:00.000Z', etag: expect.stringMatching(/^\d+$/) });
    expect(fake.requests[0]).toMatchObject({ op: 'objects.insert', query: { uploadType: 'multipart', ifGenerationMatch: '0', name: 'meshlink-port-1' }, status: 200 });
    expect(fake.calls).toEqual({ 'objects.insert': 1, 'objects.get': 1 });
  });

  it('reads an absent claim as undefined', async () => {
    const { claims } = await setup();
    expect(await claims.read('meshlink-port-1')).toBeUndefined();
  });

  it('refuses a second claim of one id: already-exists, the first kept', async () => {
    const { claims } = await setup();
    await claims.create('meshlink-port-1', META);
    expect(await errorOf(claims.create('meshlink-port-1', other('postgres')))).toMatchObject({ code: 'already-exists' });
    expect(await holder(claims)).toBe('mysql');
  });

  it('of two claims made at once, exactly one is made', async () => {
    const { claims } = await setup();
    const results = await Promise.allSettled([claims.create('meshlink-port-1', META), claims.create('meshlink-port-1', other('postgres'))]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(['already-exists']);
  });

  it('deletes only at the generation read: conflict when made again since, not-found when gone', async () => {
    const { claims } = await setup();
    await claims.create('meshlink-port-1', META);
    const first = (await claims.read('meshlink-port-1'))!;
    await claims.delete(first);
    expect(await errorOf(claims.delete(first))).toMatchObject({ code: 'not-found' });
    await claims.create('meshlink-port-1', other('postgres'));
    expect(await errorOf(claims.delete(first))).toMatchObject({ code: 'conflict' });
    expect(await holder(claims)).toBe('postgres');
  });

  it('lists the claims with given labels', async () => {
    const { claims } = await setup();
    await claims.create('meshlink-port-1', META);
    await claims.create('meshlink-host-1', { ...META, labels: { ...META.labels, 'meshlink-role': 'host-claim' } });
    await claims.create('meshlink-port-2', other('postgres'));
    const found = await claims.listOutsideStore({ 'meshlink-link': 'mysql' });
    expect(found.map((c) => c.id).sort()).toEqual(['meshlink-host-1', 'meshlink-port-1']);
  });

  describe('transient failures', () => {
    it.each([429, 503])('retries %s on every call, with backoff', async (status) => {
      const { fake, claims, timing } = await setup();
      fake.failNext('objects.insert', status);
      await claims.create('meshlink-port-1', META);
      fake.failNext('objects.get', status);
      const read = (await claims.read('meshlink-port-1'))!;
      fake.failNext('objects.delete', status);
      await claims.delete(read);
      expect(await claims.read('meshlink-port-1')).toBeUndefined();
      expect(timing.sleeps).toHaveLength(3);
    });

    it('a create whose answer was lost is not refused by its own object (412 on the retry)', async () => {
      const { fake, claims } = await setup();
      fake.failAfterNext('objects.insert', 503);
      await claims.create('meshlink-port-1', META);
      expect(fake.requests.filter((r) => r.op === 'objects.insert').map((r) => r.status)).toEqual([503, 412]);
      expect(await holder(claims)).toBe('mysql');
    });

    it('a create retried into another link\'s claim is refused: already-exists', async () => {
      const { fake, claims } = await setup();
      await claims.create('meshlink-port-1', other('postgres'));
      fake.failNext('objects.insert', 503);
      expect(await errorOf(claims.create('meshlink-port-1', META))).toMatchObject({ code: 'already-exists' });
      expect(await holder(claims)).toBe('postgres');
    });

    it('a delete whose answer was lost is done (404 on the retry)', async () => {
      const { fake, claims } = await setup();
      await claims.create('meshlink-port-1', META);
      fake.failAfterNext('objects.delete', 503);
      await claims.delete((await claims.read('meshlink-port-1'))!);
      expect(fake.requests.filter((r) => r.op === 'objects.delete').map((r) => r.status)).toEqual([503, 404]);
    });

    it('past the retry budget: unavailable with a retry hint, nothing made', async () => {
      const { fake, claims } = await setup({ totalMs: 1_000 });
      fake.injectFailures(() => 429);
      const err = await errorOf(claims.create('meshlink-port-1', META));
      expect(err).toBeInstanceOf(MeshlinkError);
      expect(err).toMatchObject({ code: 'unavailable', retryAfterMs: expect.any(Number) });
      expect((err as Error).message).toMatch(/gs:\/\/meshlink-claims-test\/meshlink-port-1 \(after \d+ retries\)/);
      fake.injectFailures(undefined);
      expect(await claims.read('meshlink-port-1')).toBeUndefined();
    });
  });

  it.each([
    [403, 'permission-denied'],
    [401, 'permission-denied'],
    [400, 'invalid-argument'],
  ])('answers %s as %s, not retried', async (status, code) => {
    const { fake, claims } = await setup();
    fake.failNext('objects.get', status);
    expect(await errorOf(claims.read('meshlink-port-1'))).toMatchObject({ code });
    expect(fake.calls['objects.get']).toBe(1);
  });

  it('a missing bucket is not-found', async () => {
    const { fake } = await setup();
    const claims = new CloudStorageClaims({ bucket: 'no-such-bucket', apiEndpoint: fake.url, timing: simulatedTiming() });
    expect(isMeshlinkError(await errorOf(claims.read('meshlink-port-1')), 'not-found')).toBe(false); // an absent object, not an error
    expect(await errorOf(claims.create('meshlink-port-1', META))).toMatchObject({ code: 'not-found' });
  });

  it('refuses a bucket name Cloud Storage would refuse, and an endpoint that is not a local test server', () => {
    for (const bucket of ['', 'ab', 'Upper', '-dash', 'a'.repeat(64), 'a..b', 'ends-', 'goog-claims', 'my-google-claims', `${'a'.repeat(64)}.b`]) {
      expect(() => new CloudStorageClaims({ bucket })).toThrow(/invalid Cloud Storage bucket name/);
    }
    expect(() => new CloudStorageClaims({ bucket: 'claims', apiEndpoint: 'https://storage.example.com' })).toThrow(/local test server/);
    expect(() => new CloudStorageClaims({ bucket: 'my.claims.example.com' })).not.toThrow();
  });
});

/** One step on two claim ids by three holders: make a claim, read it (kept), delete as read earlier. */
type Step = { op: 'create'; id: number; holder: number } | { op: 'read'; id: number } | { op: 'delete'; read: number };

const STEP: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('create' as const), id: fc.nat(1), holder: fc.nat(2) }),
  fc.record({ op: fc.constant('read' as const), id: fc.nat(1) }),
  fc.record({ op: fc.constant('delete' as const), read: fc.nat(7) }),
);

describe('Cloud Storage claims against a model', () => {
  it('a claim is made only when absent, and deleted only as it was read (any sequence of steps)', async () => {
    const { claims } = await setup();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(STEP, { maxLength: 20 }), async (steps) => {
        run++;
        const idOf = (i: number) => `meshlink-port-run${run}-${i}`;
        // The model: per id, the holder and a counter that a new claim bumps.
        const model = new Map<number, { holder: string; made: number }>();
        let made = 0;
        const reads: { id: number; made: number; claim: Claim }[] = [];
        for (const step of steps) {
          if (step.op === 'create') {
            const holder = `link${step.holder}`;
            const err = await errorOf(claims.create(idOf(step.id), other(holder)));
            if (model.has(step.id)) expect(err).toMatchObject({ code: 'already-exists' });
            else {
              expect(err).toBeUndefined();
              model.set(step.id, { holder, made: ++made });
            }
          } else if (step.op === 'read') {
            const claim = await claims.read(idOf(step.id));
            expect(claim?.labels['meshlink-link']).toBe(model.get(step.id)?.holder);
            if (claim) reads.push({ id: step.id, made: model.get(step.id)!.made, claim });
          } else if (reads.length > 0) {
            const read = reads[step.read % reads.length]!;
            const err = await errorOf(claims.delete(read.claim));
            const now = model.get(read.id);
            if (!now) expect(err).toMatchObject({ code: 'not-found' });
            else if (now.made !== read.made) expect(err).toMatchObject({ code: 'conflict' });
            else {
              expect(err).toBeUndefined();
              model.delete(read.id);
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
