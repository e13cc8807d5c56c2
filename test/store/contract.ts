// The SecretStore contract: one suite every adapter must pass (in-memory, local files, Secret
// Manager over gRPC against the wire-level fake).
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isMeshlinkError, type ErrorCode } from '../../shared/errors.js';
import { listAllSecrets, type SecretStore } from '../../shared/store/port.js';

export interface StoreHarness {
  store: SecretStore;
  /** Moves the clock that stamps createTime (the store's, or the fake server's). */
  advance(ms: number): void;
  close?(): Promise<void>;
}

const labels = (link: string, role = 'server') => ({ 'managed-by': 'meshlink', 'meshlink-link': link, 'meshlink-role': role });
const text = (s: string) => new TextEncoder().encode(s);

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a MeshlinkError '${code}'`).toBeDefined();
  if (!isMeshlinkError(err)) throw err;
  expect(err.code).toBe(code);
}

export function describeSecretStoreContract(name: string, makeStore: () => Promise<StoreHarness>): void {
  describe(`SecretStore contract: ${name}`, () => {
    let h: StoreHarness;
    let store: SecretStore;

    beforeEach(async () => {
      h = await makeStore();
      store = h.store;
    });
    afterEach(async () => {
      await h.close?.();
    });

    /** Creates secrets one clock tick apart, oldest first. */
    async function createSeries(ids: string[], withLabels: (i: number) => Record<string, string>) {
      for (const [i, id] of ids.entries()) {
        h.advance(1000);
        await store.createSecret(id, { labels: withLabels(i), annotations: {} });
      }
    }

    describe('secrets', () => {
      it('creates a secret and reads back the same metadata with a quoted etag', async () => {
        const created = await store.createSecret('meshlink-a-server', { labels: labels('a'), annotations: { 'meshlink.io-not-after': '2026-03-01T00:00:00Z' } });
        expect(created).toMatchObject({ id: 'meshlink-a-server', labels: labels('a'), annotations: { 'meshlink.io-not-after': '2026-03-01T00:00:00Z' } });
        expect(created.etag).toMatch(/^".+"$/);
        expect(Number.isNaN(Date.parse(created.createTime))).toBe(false);
        expect(await store.getSecret('meshlink-a-server')).toEqual(created);
      });

      it('refuses a second secret with the same id', async () => {
        await store.createSecret('dup', { labels: {}, annotations: {} });
        await expectCode(store.createSecret('dup', { labels: {}, annotations: {} }), 'already-exists');
      });

      it.each([
        ['an id with a slash', 'a/b', {}, {}],
        ['an id with a dot', '..', {}, {}],
        ['an empty id', '', {}, {}],
        ['an uppercase label value', 'x', { link: 'MySQL' }, {}],
        ['a label key with a dot', 'x', { 'meshlink.io/link': 'a' }, {}],
        ['an annotation key with a slash', 'x', {}, { 'meshlink.io/phase': 'x' }],
        ['annotations over 16 KiB', 'x', {}, { big: 'x'.repeat(16 * 1024) }],
      ])('rejects %s as invalid-argument', async (_what, id, withLabels, annotations) => {
        await expectCode(store.createSecret(id, { labels: withLabels, annotations }), 'invalid-argument');
      });

      it.each([
        ['getSecret', (s: SecretStore) => s.getSecret('missing')],
        ['updateAnnotations', (s: SecretStore) => s.updateAnnotations('missing', {}, '"x"')],
        ['deleteSecret', (s: SecretStore) => s.deleteSecret('missing')],
        ['addVersion', (s: SecretStore) => s.addVersion('missing', text('x'))],
        ['accessVersion', (s: SecretStore) => s.accessVersion('missing')],
        ['listVersions', (s: SecretStore) => s.listVersions('missing')],
        ['disableVersion', (s: SecretStore) => s.disableVersion('missing', '1')],
        ['destroyVersion', (s: SecretStore) => s.destroyVersion('missing', '1')],
      ])('%s on a missing secret is not-found', async (_method, call) => {
        await expectCode(call(store), 'not-found');
      });

      it('returns copies: mutating a result does not change the store', async () => {
        const created = await store.createSecret('copy', { labels: labels('a'), annotations: { k: 'v' } });
        created.labels['meshlink-link'] = 'b';
        created.annotations['k'] = 'changed';
        expect(await store.getSecret('copy')).toMatchObject({ labels: labels('a'), annotations: { k: 'v' } });
      });
    });

    describe('annotations and etags', () => {
      it('replaces the whole annotation map and changes the etag', async () => {
        const created = await store.createSecret('s', { labels: {}, annotations: { a: '1', b: '2' } });
        const updated = await store.updateAnnotations('s', { b: '3', c: '4' }, created.etag);
        expect(updated.annotations).toEqual({ b: '3', c: '4' });
        expect(updated.etag).not.toBe(created.etag);
        expect(updated.etag).toMatch(/^".+"$/);
        expect(await store.getSecret('s')).toEqual(updated);
      });

      it('changes the etag even when nothing else changes', async () => {
        const created = await store.createSecret('s', { labels: {}, annotations: { a: '1' } });
        const updated = await store.updateAnnotations('s', { a: '1' }, created.etag);
        expect(updated.etag).not.toBe(created.etag);
      });

      it('refuses an update with a stale etag as conflict and keeps the newer state', async () => {
        const created = await store.createSecret('s', { labels: {}, annotations: { a: '1' } });
        await store.updateAnnotations('s', { a: '2' }, created.etag);
        await expectCode(store.updateAnnotations('s', { a: '3' }, created.etag), 'conflict');
        expect((await store.getSecret('s')).annotations).toEqual({ a: '2' });
      });

      it('refuses an empty etag instead of skipping the precondition', async () => {
        await store.createSecret('s', { labels: {}, annotations: {} });
        await expectCode(store.updateAnnotations('s', { a: '1' }, ''), 'invalid-argument');
      });

      it('lets exactly one of two concurrent updates with the same etag win', async () => {
        const created = await store.createSecret('s', { labels: {}, annotations: {} });
        const results = await Promise.allSettled([
          store.updateAnnotations('s', { winner: 'first' }, created.etag),
          store.updateAnnotations('s', { winner: 'second' }, created.etag),
        ]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r) => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect(isMeshlinkError((lost[0] as PromiseRejectedResult).reason, 'conflict')).toBe(true);
        expect((await store.getSecret('s')).annotations).toEqual((won[0] as PromiseFulfilledResult<{ annotations: object }>).value.annotations);
      });
    });

    describe('deletion', () => {
      it('deletes with the current etag, or without one, and the id can be reused', async () => {
        const first = await store.createSecret('s', { labels: {}, annotations: {} });
        await store.addVersion('s', text('old'));
        await store.deleteSecret('s', first.etag);
        await expectCode(store.getSecret('s'), 'not-found');
        await store.createSecret('s', { labels: {}, annotations: {} });
        expect(await store.listVersions('s')).toEqual([]);
        await store.deleteSecret('s');
        await expectCode(store.getSecret('s'), 'not-found');
      });

      it('refuses a delete with a stale etag as conflict', async () => {
        const created = await store.createSecret('s', { labels: {}, annotations: {} });
        await store.updateAnnotations('s', { a: '1' }, created.etag);
        await expectCode(store.deleteSecret('s', created.etag), 'conflict');
        expect((await store.getSecret('s')).id).toBe('s');
      });
    });

    describe('versions', () => {
      beforeEach(async () => {
        await store.createSecret('v', { labels: {}, annotations: {} });
      });

      it('numbers versions 1, 2, 3 and reads each back byte for byte', async () => {
        const payloads = [randomBytes(100), new Uint8Array([0, 255, 0, 1]), text('tls.crt: ...')];
        const numbers: string[] = [];
        for (const p of payloads) numbers.push(await store.addVersion('v', p));
        expect(numbers).toEqual(['1', '2', '3']);
        for (const [i, p] of payloads.entries()) {
          const got = await store.accessVersion('v', String(i + 1));
          expect(got.version).toBe(String(i + 1));
          expect(Buffer.from(got.payload).equals(Buffer.from(p))).toBe(true);
        }
      });

      it('reads the newest version as latest, by default', async () => {
        await store.addVersion('v', text('one'));
        await store.addVersion('v', text('two'));
        const got = await store.accessVersion('v');
        expect(got.version).toBe('2');
        expect(new TextDecoder().decode(got.payload)).toBe('two');
        expect((await store.accessVersion('v', 'latest')).version).toBe('2');
      });

      it('lists versions newest first with their states', async () => {
        for (const p of ['a', 'b', 'c']) await store.addVersion('v', text(p));
        await store.disableVersion('v', '2');
        await store.destroyVersion('v', '1');
        const versions = await store.listVersions('v');
        expect(versions.map((v) => [v.version, v.state])).toEqual([
          ['3', 'ENABLED'],
          ['2', 'DISABLED'],
          ['1', 'DESTROYED'],
        ]);
        for (const v of versions) expect(Number.isNaN(Date.parse(v.createTime))).toBe(false);
      });

      it.each([
        ['disabled', (s: SecretStore) => s.disableVersion('v', '2')],
        ['destroyed', (s: SecretStore) => s.destroyVersion('v', '2')],
      ])('a %s version cannot be read, and latest falls back to the newest enabled one', async (_state, retire) => {
        await store.addVersion('v', text('one'));
        await store.addVersion('v', text('two'));
        await retire(store);
        await expectCode(store.accessVersion('v', '2'), 'not-found');
        const latest = await store.accessVersion('v');
        expect(latest.version).toBe('1');
        expect(new TextDecoder().decode(latest.payload)).toBe('one');
      });

      it('has no latest when no version is enabled', async () => {
        await expectCode(store.accessVersion('v'), 'not-found');
        await store.addVersion('v', text('one'));
        await store.disableVersion('v', '1');
        await expectCode(store.accessVersion('v'), 'not-found');
      });

      it('makes disable and destroy idempotent, and keeps destroyed versions destroyed', async () => {
        await store.addVersion('v', text('one'));
        await store.disableVersion('v', '1');
        await store.disableVersion('v', '1');
        await store.destroyVersion('v', '1');
        await store.destroyVersion('v', '1');
        await store.disableVersion('v', '1');
        expect((await store.listVersions('v')).map((v) => v.state)).toEqual(['DESTROYED']);
      });

      it('keeps numbering after destroyed versions', async () => {
        await store.addVersion('v', text('one'));
        await store.destroyVersion('v', '1');
        expect(await store.addVersion('v', text('two'))).toBe('2');
      });

      it.each([
        ['a version that was never added', '7', 'not-found'],
        ['a malformed version', 'v1', 'invalid-argument'],
      ] as const)('reading %s is %s', async (_what, version, code) => {
        await store.addVersion('v', text('one'));
        await expectCode(store.accessVersion('v', version), code);
      });

      it('rejects a payload over 64 KiB', async () => {
        await expectCode(store.addVersion('v', new Uint8Array(64 * 1024 + 1)), 'invalid-argument');
        expect(await store.addVersion('v', new Uint8Array(64 * 1024))).toBe('1');
      });

      it('gives concurrent additions distinct numbers', async () => {
        const numbers = await Promise.all([1, 2, 3, 4, 5].map((i) => store.addVersion('v', text(String(i)))));
        expect([...numbers].sort()).toEqual(['1', '2', '3', '4', '5']);
        for (const n of numbers) expect((await store.accessVersion('v', n)).version).toBe(n);
      });
    });

    describe('listing', () => {
      it('returns only secrets whose labels all match exactly', async () => {
        await createSeries(['mysql-server', 'mysql-client', 'mysql2-server', 'other'], (i) =>
          i === 3 ? { 'managed-by': 'someone-else' } : labels(i === 2 ? 'mysql2' : 'mysql', i === 1 ? 'client' : 'server'),
        );
        const ids = async (l: Record<string, string>) => (await store.listSecrets({ labels: l })).secrets.map((s) => s.id).sort();
        expect(await ids({ 'meshlink-link': 'mysql' })).toEqual(['mysql-client', 'mysql-server']);
        expect(await ids({ 'meshlink-link': 'mysql', 'meshlink-role': 'server' })).toEqual(['mysql-server']);
        expect(await ids({ 'managed-by': 'meshlink' })).toEqual(['mysql-client', 'mysql-server', 'mysql2-server']);
        expect(await ids({ 'meshlink-link': 'mys' })).toEqual([]);
        expect(await ids({})).toEqual(['mysql-client', 'mysql-server', 'mysql2-server', 'other']);
      });

      it('lists newest first and returns the metadata of each secret', async () => {
        await createSeries(['first', 'second', 'third'], () => labels('a'));
        const created = await store.getSecret('second');
        const page = await store.listSecrets({ labels: labels('a') });
        expect(page.secrets.map((s) => s.id)).toEqual(['third', 'second', 'first']);
        expect(page.secrets[1]).toEqual(created);
        expect(page.nextPageToken).toBeUndefined();
      });

      it('orders secrets created at the same instant by id', async () => {
        for (const id of ['b', 'c', 'a']) await store.createSecret(id, { labels: labels('same'), annotations: {} });
        expect((await store.listSecrets({ labels: labels('same') })).secrets.map((s) => s.id)).toEqual(['a', 'b', 'c']);
      });

      it('pages through every match exactly once, with no token after the last page', async () => {
        const ids = Array.from({ length: 7 }, (_, i) => `s${i}`);
        await createSeries(ids, () => labels('paged'));
        const seen: string[] = [];
        let pageToken: string | undefined;
        let pages = 0;
        do {
          const page = await store.listSecrets({ labels: labels('paged'), pageSize: 3, ...(pageToken ? { pageToken } : {}) });
          expect(page.secrets.length).toBeLessThanOrEqual(3);
          seen.push(...page.secrets.map((s) => s.id));
          pageToken = page.nextPageToken;
          pages++;
        } while (pageToken);
        expect(pages).toBe(3);
        expect(seen).toEqual([...ids].reverse());
      });

      it('does not skip or repeat secrets when one is created between pages', async () => {
        await createSeries(['a', 'b', 'c', 'd'], () => labels('moving'));
        const first = await store.listSecrets({ labels: labels('moving'), pageSize: 2 });
        h.advance(1000);
        await store.createSecret('newest', { labels: labels('moving'), annotations: {} });
        const second = await store.listSecrets({ labels: labels('moving'), pageSize: 2, pageToken: first.nextPageToken! });
        expect([...first.secrets, ...second.secrets].map((s) => s.id)).toEqual(['d', 'c', 'b', 'a']);
      });

      it('iterates all pages with listAllSecrets', async () => {
        await createSeries(['a', 'b', 'c', 'd', 'e'], () => labels('all'));
        const ids: string[] = [];
        for await (const s of listAllSecrets(store, { labels: labels('all'), pageSize: 2 })) ids.push(s.id);
        expect(ids).toEqual(['e', 'd', 'c', 'b', 'a']);
      });

      it.each([
        ['a garbage page token', { labels: {}, pageToken: 'not-a-token' }],
        ['a negative page size', { labels: {}, pageSize: -1 }],
        ['an uppercase label filter', { labels: { link: 'A' } }],
      ])('rejects %s as invalid-argument', async (_what, query) => {
        await store.createSecret('x', { labels: {}, annotations: {} });
        await expectCode(store.listSecrets(query), 'invalid-argument');
      });
    });
  });
}
