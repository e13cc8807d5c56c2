// The Secret Manager adapter through the real client library and real gRPC, against the
// wire-level fake: the SecretStore contract, then what only this adapter does.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../support/clock.js';
import { isMeshlinkError, type ErrorCode } from '../../shared/errors.js';
import { crc32c } from '../../shared/store/crc32c.js';
import { SecretManagerStore, type SecretManagerStoreOptions } from '../../shared/store/secret-manager-store.js';
import { startFakeSecretManager, type FakeSecretManager, type GrpcStatusName } from '../fakes/secret-manager-server.js';
import { describeSecretStoreContract } from './contract.js';

/** No retries: each injected status is seen as it is (retries have their own tests). */
function storeFor(fake: FakeSecretManager, location?: string): SecretManagerStore {
  return new SecretManagerStore({ project: fake.project, apiEndpoint: '127.0.0.1', port: fake.port, plaintext: true, retry: { totalMs: 0 }, ...(location ? { location } : {}) });
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describeSecretStoreContract('SecretManagerStore over gRPC', async () => {
  const clock = manualClock();
  const fake = await startFakeSecretManager({ clock });
  const store = storeFor(fake);
  return {
    store,
    advance: (ms) => clock.advance(ms),
    close: async () => {
      await store.close();
      await fake.close();
    },
  };
});

describe('SecretManagerStore', () => {
  let fake: FakeSecretManager;
  let store: SecretManagerStore;
  const text = (s: string) => new TextEncoder().encode(s);

  beforeAll(async () => {
    fake = await startFakeSecretManager();
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(async () => {
    store = storeFor(fake);
  });
  afterEach(async () => {
    await store.close();
  });

  describe('gRPC status translation', () => {
    it.each<[GrpcStatusName, ErrorCode]>([
      ['NOT_FOUND', 'not-found'],
      ['ALREADY_EXISTS', 'already-exists'],
      ['FAILED_PRECONDITION', 'conflict'],
      ['ABORTED', 'conflict'],
      ['PERMISSION_DENIED', 'permission-denied'],
      ['UNAUTHENTICATED', 'permission-denied'],
      ['UNAVAILABLE', 'unavailable'],
      ['DEADLINE_EXCEEDED', 'unavailable'],
      ['RESOURCE_EXHAUSTED', 'unavailable'],
      ['INTERNAL', 'unavailable'],
      ['INVALID_ARGUMENT', 'invalid-argument'],
      ['DATA_LOSS', 'internal'],
    ])('%s becomes %s, naming the secret and keeping the cause', async (status, code) => {
      fake.failNext('GetSecret', status);
      const err = await caught(store.getSecret('meshlink-x-ca'));
      expect(isMeshlinkError(err, code)).toBe(true);
      expect((err as Error).message).toContain('meshlink-x-ca');
      expect((err as Error).message).toContain(status);
      expect((err as Error).cause).toMatchObject({ code: expect.any(Number) });
    });

    it('reads a refused access to a disabled version as not-found, not conflict', async () => {
      await store.createSecret('refused', { labels: {}, annotations: {} });
      await store.addVersion('refused', text('x'));
      await store.disableVersion('refused', '1');
      const err = await caught(store.accessVersion('refused', '1'));
      expect(isMeshlinkError(err, 'not-found')).toBe(true);
    });
  });

  describe('checksums', () => {
    it('sends the CRC32C of every payload it adds', async () => {
      await store.createSecret('crc', { labels: {}, annotations: {} });
      const payload = text('tls.crt and tls.key');
      await store.addVersion('crc', payload);
      const add = fake.requests.findLast((r) => r.method === 'AddSecretVersion');
      const sent = (add?.request['payload'] as { dataCrc32c?: string } | undefined)?.dataCrc32c;
      expect(Number(sent)).toBe(crc32c(payload));
    });

    it('detects a payload corrupted on the way back as internal', async () => {
      await store.createSecret('corrupt', { labels: {}, annotations: {} });
      await store.addVersion('corrupt', text('intact'));
      fake.corruptNextAccess();
      const err = await caught(store.accessVersion('corrupt'));
      expect(isMeshlinkError(err, 'internal')).toBe(true);
      expect(new TextDecoder().decode((await store.accessVersion('corrupt')).payload)).toBe('intact');
    });
  });

  describe('resource names', () => {
    it('returns short ids and version numbers although the service answers with the project number', async () => {
      await store.createSecret('numbered', { labels: { k: 'numbered' }, annotations: {} });
      const version = await store.addVersion('numbered', text('x'));
      const answered = fake.requests.length;
      expect(fake.projectNumber).not.toBe(fake.project);
      expect((await store.getSecret('numbered')).id).toBe('numbered');
      expect((await store.listSecrets({ labels: { k: 'numbered' } })).secrets.map((s) => s.id)).toEqual(['numbered']);
      expect(version).toBe('1');
      expect((await store.accessVersion('numbered')).version).toBe('1');
      expect((await store.listVersions('numbered')).map((v) => v.version)).toEqual(['1']);
      // The fake answered with the number; requests named the project as configured.
      const exchanged = fake.requests.slice(answered);
      expect(exchanged.map((r) => r.method)).toEqual(['GetSecret', 'ListSecrets', 'AccessSecretVersion', 'ListSecretVersions']);
      for (const r of exchanged) {
        expect(JSON.stringify(r.request)).toContain(`projects/${fake.project}`);
        expect(JSON.stringify(r.response)).toContain(`"name":"projects/${fake.projectNumber}/secrets/numbered`);
      }
    });

    it('keeps regional secrets under their location, apart from global ones', async () => {
      const regional = storeFor(fake, 'europe-west1');
      try {
        await regional.createSecret('regional', { labels: { scope: 'regional' }, annotations: {} });
        await regional.addVersion('regional', text('eu'));
        expect(new TextDecoder().decode((await regional.accessVersion('regional')).payload)).toBe('eu');
        expect(JSON.stringify(fake.requests.at(-1)?.request)).toContain(`projects/${fake.project}/locations/europe-west1/secrets/regional`);
        expect(isMeshlinkError(await caught(store.getSecret('regional')), 'not-found')).toBe(true);
      } finally {
        await regional.close();
      }
    });
  });

  describe('listing cost', () => {
    it('spends exactly one ListSecrets call per page and reads no payload', async () => {
      for (const i of [1, 2, 3, 4, 5]) await store.createSecret(`paged-${i}`, { labels: { cost: 'paged' }, annotations: {} });
      const before = { ...fake.calls };
      let pageToken: string | undefined;
      let pages = 0;
      do {
        const page = await store.listSecrets({ labels: { cost: 'paged' }, pageSize: 2, ...(pageToken ? { pageToken } : {}) });
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken);
      expect(pages).toBe(3);
      const delta = (m: string) => (fake.calls[m] ?? 0) - (before[m] ?? 0);
      expect(delta('ListSecrets')).toBe(3);
      expect(delta('GetSecret') + delta('AccessSecretVersion') + delta('ListSecretVersions')).toBe(0);
      expect(fake.requests.at(-1)?.request).toMatchObject({ filter: 'labels.cost=paged', pageSize: 2 });
    });
  });

  describe('configuration', () => {
    it.each([
      ['a Google endpoint', { apiEndpoint: 'secretmanager.googleapis.com' }],
      ['the default endpoint', {}],
      ['a private address', { apiEndpoint: '10.0.0.7' }],
      ['a name that only starts like localhost', { apiEndpoint: 'localhost.example.com' }],
    ])('refuses plaintext to %s', (_what, endpoint) => {
      expect(() => new SecretManagerStore({ project: 'p', plaintext: true, ...endpoint })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    });

    it.each(['127.0.0.1', 'localhost', '::1'])('allows plaintext to loopback %s without connecting', (apiEndpoint) => {
      expect(() => new SecretManagerStore({ project: 'p', plaintext: true, apiEndpoint, port: 1 })).not.toThrow();
    });

    it('uses an injected client instead of creating one', async () => {
      const requests: unknown[] = [];
      const client = {
        getSecret: async (request: unknown) => {
          requests.push(request);
          return [{ name: 'projects/42/secrets/injected', labels: {}, annotations: {}, etag: '"e"', createTime: { seconds: '1767225600', nanos: 0 } }];
        },
      } as unknown as NonNullable<SecretManagerStoreOptions['client']>;
      const injected = new SecretManagerStore({ project: 'p', client });
      expect(await injected.getSecret('injected')).toEqual({ id: 'injected', labels: {}, annotations: {}, etag: '"e"', createTime: '2026-01-01T00:00:00.000Z' });
      expect(requests).toEqual([{ name: 'projects/p/secrets/injected' }]);
    });

    it.each([
      ['an endpoint with the port in it', { project: 'p', apiEndpoint: 'localhost:9090' }],
      ['an empty project', { project: '' }],
      ['a malformed location', { project: 'p', location: 'Europe/West' }],
    ])('refuses %s', (_what, options) => {
      expect(() => new SecretManagerStore(options)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    });
  });
});

describe('SecretManagerStore as reader of the organisation\'s secrets (issuers of type secretManager)', () => {
  it('reads the newest version by full resource name, and refuses anything else unsent', async () => {
    const fake = await startFakeSecretManager();
    const store = storeFor(fake);
    try {
      await store.createSecret('org-bundle', { labels: {}, annotations: {} });
      await store.addVersion('org-bundle', new TextEncoder().encode('one'));
      await store.addVersion('org-bundle', new TextEncoder().encode('two'));
      const read = await store.readForeignSecret(`projects/${fake.project}/secrets/org-bundle`);
      expect(new TextDecoder().decode(read.payload)).toBe('two');
      expect(read.version).toBe('2');
      expect(isMeshlinkError(await caught(store.readForeignSecret(`projects/${fake.project}/secrets/absent`)), 'not-found')).toBe(true);
      expect(isMeshlinkError(await caught(Promise.resolve().then(() => store.readForeignSecret('org-bundle'))), 'invalid-argument')).toBe(true);
    } finally {
      await store.close();
      await fake.close();
    }
  });
});
