// Transient Secret Manager failures through the real client and real gRPC: quota and
// unavailability are retried with backoff inside a bounded time, then reported as `unavailable`
// with a retry hint; the client library adds no retries of its own; and a write whose answer was
// lost (UNAVAILABLE after it was applied) is not applied twice.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isMeshlinkError, MeshlinkError } from '../../shared/errors.js';
import { SecretManagerStore } from '../../shared/store/secret-manager-store.js';
import type { RetryPolicy } from '../../shared/store/retry.js';
import { startFakeSecretManager, type FakeSecretManager, type GrpcStatusName } from '../fakes/secret-manager-server.js';
import { simulatedTiming } from '../support/simulated-timing.js';

const text = (s: string) => new TextEncoder().encode(s);

describe('SecretManagerStore retries', () => {
  let fake: FakeSecretManager;
  let timing: ReturnType<typeof simulatedTiming>;
  let n = 0;
  let id: string;
  const stores: SecretManagerStore[] = [];

  function storeWith(retry: Partial<RetryPolicy> = {}): SecretManagerStore {
    const store = new SecretManagerStore({ project: fake.project, apiEndpoint: '127.0.0.1', port: fake.port, plaintext: true, retry, timing });
    stores.push(store);
    return store;
  }
  const callsOf = (method: string) => fake.calls[method] ?? 0;

  beforeAll(async () => {
    fake = await startFakeSecretManager();
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await fake.close();
  });
  beforeEach(() => {
    fake.clearFailures();
    timing = simulatedTiming();
    id = `retry-${++n}`;
  });

  it.each<[string, GrpcStatusName]>([
    ['CreateSecret', 'RESOURCE_EXHAUSTED'],
    ['CreateSecret', 'UNAVAILABLE'],
    ['GetSecret', 'DEADLINE_EXCEEDED'],
    ['AccessSecretVersion', 'RESOURCE_EXHAUSTED'],
  ])('retries %s after %s with growing, jittered waits until it succeeds', async (method, status) => {
    const store = storeWith();
    if (method !== 'CreateSecret') {
      await store.createSecret(id, { labels: {}, annotations: {} });
      await store.addVersion(id, text('v1'));
    }
    const before = callsOf(method);
    fake.failNext(method, status);
    fake.failNext(method, status);
    if (method === 'CreateSecret') await store.createSecret(id, { labels: { k: 'v' }, annotations: {} });
    else if (method === 'GetSecret') await store.getSecret(id);
    else expect(new TextDecoder().decode((await store.accessVersion(id)).payload)).toBe('v1');
    expect(callsOf(method) - before).toBe(3);
    // Full jitter at 0.5: half of 250 ms, then half of 500 ms.
    expect(timing.sleeps).toEqual([125, 250]);
  });

  it.each<[string, GrpcStatusName]>([
    ['UpdateSecret', 'DEADLINE_EXCEEDED'],
    ['AddSecretVersion', 'DEADLINE_EXCEEDED'],
    ['GetSecret', 'PERMISSION_DENIED'],
    ['GetSecret', 'INTERNAL'],
  ])('does not retry %s after %s', async (method, status) => {
    const store = storeWith();
    const meta = await store.createSecret(id, { labels: {}, annotations: {} });
    const before = callsOf(method);
    fake.failNext(method, status);
    const err = await (method === 'UpdateSecret' ? store.updateAnnotations(id, { a: '1' }, meta.etag) : method === 'AddSecretVersion' ? store.addVersion(id, text('x')) : store.getSecret(id)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshlinkError);
    expect(callsOf(method) - before).toBe(1);
    expect(timing.sleeps).toEqual([]);
  });

  it('gives up within the total time and reports unavailable with a retry hint', async () => {
    const store = storeWith({ totalMs: 5_000 });
    fake.injectFailures((method) => (method === 'GetSecret' ? 'RESOURCE_EXHAUSTED' : undefined));
    const err = await store.getSecret(id).catch((e: unknown) => e);
    expect(isMeshlinkError(err, 'unavailable')).toBe(true);
    expect((err as MeshlinkError).message).toMatch(/RESOURCE_EXHAUSTED/);
    expect((err as MeshlinkError).retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(timing.sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(5_000);
    expect(timing.sleeps.length).toBeGreaterThan(2);
  });

  it('leaves retrying to this adapter: the client library does not retry AccessSecretVersion on its own', async () => {
    const store = storeWith({ totalMs: 0 });
    await store.createSecret(id, { labels: {}, annotations: {} });
    await store.addVersion(id, text('v1'));
    const before = callsOf('AccessSecretVersion');
    fake.failNext('AccessSecretVersion', 'RESOURCE_EXHAUSTED');
    const err = await store.accessVersion(id).catch((e: unknown) => e);
    expect(isMeshlinkError(err, 'unavailable')).toBe(true);
    expect(callsOf('AccessSecretVersion') - before).toBe(1);
  });

  describe('a write applied although its answer was lost', () => {
    it('CreateSecret: the secret our first attempt created is success', async () => {
      const store = storeWith();
      fake.failAfterNext('CreateSecret', 'UNAVAILABLE');
      const meta = await store.createSecret(id, { labels: { link: 'l' }, annotations: { a: '1' } });
      expect(meta).toMatchObject({ id, labels: { link: 'l' }, annotations: { a: '1' } });
    });

    it('CreateSecret: a secret that differs from the one asked for is still already-exists', async () => {
      const store = storeWith();
      await store.createSecret(id, { labels: { link: 'other' }, annotations: {} });
      fake.failNext('CreateSecret', 'UNAVAILABLE');
      const err = await store.createSecret(id, { labels: { link: 'mine' }, annotations: {} }).catch((e: unknown) => e);
      expect(isMeshlinkError(err, 'already-exists')).toBe(true);
    });

    it('AddSecretVersion: adopts the version the first attempt added instead of adding a second', async () => {
      const store = storeWith();
      await store.createSecret(id, { labels: {}, annotations: {} });
      await store.addVersion(id, text('old'));
      fake.failAfterNext('AddSecretVersion', 'UNAVAILABLE');
      expect(await store.addVersion(id, text('new'))).toBe('2');
      expect((await store.listVersions(id)).map((v) => v.version)).toEqual(['2', '1']);
    });

    it('AddSecretVersion: adds after a refused attempt that added nothing', async () => {
      const store = storeWith();
      await store.createSecret(id, { labels: {}, annotations: {} });
      fake.failNext('AddSecretVersion', 'UNAVAILABLE');
      expect(await store.addVersion(id, text('first'))).toBe('1');
      expect((await store.listVersions(id)).map((v) => v.version)).toEqual(['1']);
    });

    it('UpdateSecret: the etag our first attempt changed is no conflict when the annotations are ours', async () => {
      const store = storeWith();
      const meta = await store.createSecret(id, { labels: {}, annotations: { a: '1' } });
      fake.failAfterNext('UpdateSecret', 'UNAVAILABLE');
      const updated = await store.updateAnnotations(id, { a: '2' }, meta.etag);
      expect(updated.annotations).toEqual({ a: '2' });
      expect(updated.etag).toBe((await store.getSecret(id)).etag);
    });

    it('UpdateSecret: a change by someone else is still a conflict', async () => {
      const store = storeWith();
      const meta = await store.createSecret(id, { labels: {}, annotations: { a: '1' } });
      await store.updateAnnotations(id, { a: 'theirs' }, meta.etag);
      fake.failNext('UpdateSecret', 'UNAVAILABLE');
      const err = await store.updateAnnotations(id, { a: 'mine' }, meta.etag).catch((e: unknown) => e);
      expect(isMeshlinkError(err, 'conflict')).toBe(true);
    });

    it('DeleteSecret: gone after our first attempt is deleted', async () => {
      const store = storeWith();
      await store.createSecret(id, { labels: {}, annotations: {} });
      fake.failAfterNext('DeleteSecret', 'UNAVAILABLE');
      await store.deleteSecret(id);
      expect(isMeshlinkError(await store.getSecret(id).catch((e: unknown) => e), 'not-found')).toBe(true);
    });

    it('DisableSecretVersion and DestroySecretVersion: repeating them is harmless', async () => {
      const store = storeWith();
      await store.createSecret(id, { labels: {}, annotations: {} });
      await store.addVersion(id, text('x'));
      fake.failAfterNext('DisableSecretVersion', 'UNAVAILABLE');
      await store.disableVersion(id, '1');
      fake.failAfterNext('DestroySecretVersion', 'UNAVAILABLE');
      await store.destroyVersion(id, '1');
      expect((await store.listVersions(id)).map((v) => v.state)).toEqual(['DESTROYED']);
    });
  });
});
