// The local file store: the SecretStore contract, plus its journal on disk, modes, group commit,
// erasure and failures (power loss: journal-power-loss.test.ts; migration and compaction: their own files).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../support/clock.js';
import { isMeshlinkError } from '../../shared/errors.js';
import { LocalFileStore } from '../../shared/store/local-file-store.js';
import { describeSecretStoreContract } from './contract.js';
import { journalFs } from '../support/journal-fs.js';
import { PKCS8_BEGIN, PKCS8_END } from '../support/pem-armour.js';

const dirs: string[] = [];
const stores: LocalFileStore[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshlink-store-'));
  dirs.push(dir);
  return path.join(dir, 'secrets');
}
function open(dir: string, options: ConstructorParameters<typeof LocalFileStore>[1] = {}): LocalFileStore {
  const store = new LocalFileStore(dir, options);
  stores.push(store);
  return store;
}
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describeSecretStoreContract('LocalFileStore', async () => {
  const clock = manualClock();
  return { store: open(await tempDir(), { clock }), advance: (ms) => clock.advance(ms) };
});

const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);
const mode = async (p: string) => (await stat(p)).mode & 0o777;
const journal = (dir: string) => path.join(dir, 'store.journal');
/** A payload with a random marker, to look for in the raw file. */
const marked = () => {
  const marker = `KEY-${randomBytes(12).toString('hex')}`;
  return { marker, payload: text(`${PKCS8_BEGIN}${marker}${PKCS8_END}`) };
};

describe('LocalFileStore on disk', () => {
  let dir: string;
  let store: LocalFileStore;

  beforeEach(async () => {
    dir = await tempDir();
    store = open(dir);
    await store.createSecret('s', { labels: { role: 'ca' }, annotations: { phase: 'active' } });
    await store.addVersion('s', text('one'));
    await store.addVersion('s', text('two'));
  });

  it('keeps every secret in one journal file, mode 0600 in a directory of mode 0700', async () => {
    await store.createSecret('t', { labels: {}, annotations: {} });
    expect((await readdir(dir)).sort()).toEqual(['store.journal', 'store.lock']);
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(journal(dir))).toBe(0o600);
    expect(await mode(path.join(dir, 'store.lock'))).toBe(0o600);
  });

  it('persists across a close and reopen (the journal replayed)', async () => {
    const { etag } = await store.updateAnnotations('s', { phase: 'next' }, (await store.getSecret('s')).etag);
    await store.disableVersion('s', '1');
    const versions = await store.listVersions('s');
    await store.close();
    const reopened = open(dir);
    expect(await reopened.getSecret('s')).toMatchObject({ annotations: { phase: 'next' }, etag, labels: { role: 'ca' } });
    expect(await reopened.listVersions('s')).toEqual(versions);
    expect(decode((await reopened.accessVersion('s', '2')).payload)).toBe('two');
    expect(await reopened.addVersion('s', text('three'))).toBe('3');
  });

  it('serialises updates from two store instances on the same directory', async () => {
    const other = open(dir);
    const { etag } = await store.getSecret('s');
    const results = await Promise.allSettled([store.updateAnnotations('s', { by: 'one' }, etag), other.updateAnnotations('s', { by: 'two' }, etag)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('reports a payload changed in the file as internal', async () => {
    const bytes = await readFile(journal(dir));
    const at = bytes.lastIndexOf('two');
    bytes.write('TWO', at);
    await writeFile(journal(dir), bytes);
    const err = await store.accessVersion('s', '2').catch((e: unknown) => e);
    expect(isMeshlinkError(err, 'internal')).toBe(true);
  });

  it('lists nothing from a directory that does not exist yet', async () => {
    const fresh = open(path.join(dir, 'not-yet'));
    expect(await fresh.listSecrets({ labels: {} })).toEqual({ secrets: [] });
  });

  it('refuses with permission-denied a journal it may not open', async () => {
    await store.close();
    await writeFile(journal(dir), '', { mode: 0o000 }).catch(() => undefined);
    const { chmod } = await import('node:fs/promises');
    await chmod(journal(dir), 0o000);
    if (process.getuid?.() === 0) return; // root opens it anyway
    const err = await open(dir).getSecret('s').catch((e: unknown) => e);
    expect(isMeshlinkError(err, 'permission-denied')).toBe(true);
  });
});

describe('LocalFileStore records in memory (the only process on its directory)', () => {
  it('reads no record from the file: written ones are kept, and the replay parsed the others', async () => {
    const dir = await tempDir();
    const store = open(dir);
    await store.createSecret('s', { labels: { role: 'ca' }, annotations: {} });
    await store.addVersion('s', text('one'));
    await store.close();
    const calls = journalFs();
    const reopened = open(dir, { fs: calls.fs });
    await reopened.getSecret('s'); // opened: the file read once
    calls.log.reads = 0;
    const { etag } = await reopened.getSecret('s');
    await reopened.updateAnnotations('s', { phase: 'next' }, etag);
    await reopened.listVersions('s');
    expect((await reopened.listSecrets({ labels: { role: 'ca' } })).secrets.map((m) => m.annotations)).toEqual([{ phase: 'next' }]);
    expect(calls.log.reads).toBe(0);
    // A payload is read at its offset: one positional read.
    expect(decode((await reopened.accessVersion('s', '1')).payload)).toBe('one');
    expect(calls.log.reads).toBe(1);
  });

  it('hands out copies: changing what a read returned changes nothing kept', async () => {
    const store = open(await tempDir());
    await store.createSecret('s', { labels: { role: 'ca' }, annotations: { phase: 'one' } });
    (await store.getSecret('s')).annotations.phase = 'changed';
    expect((await store.getSecret('s')).annotations).toEqual({ phase: 'one' });
  });
});

describe('LocalFileStore group commit', () => {
  it('makes fewer fdatasyncs than concurrent writes, and answers none before one that covers it', async () => {
    const dir = await tempDir();
    const calls = journalFs();
    const store = open(dir, { fs: calls.fs });
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const id of ids) await store.createSecret(id, { labels: {}, annotations: {} });
    const etags = await Promise.all(ids.map(async (id) => (await store.getSecret(id)).etag));
    const before = calls.log.synced.length;
    /** When a write answers, an fdatasync that returned covered the end of its frame (found by a marker in it). */
    const covered = (marker: string) => {
      const end = readFileSync(journal(dir), 'latin1').indexOf(marker) + marker.length;
      return end > marker.length && Math.max(...calls.log.synced) >= end;
    };
    const answers = await Promise.all(
      ids.map(async (id, i) => {
        const marker = `mark-${id}-${randomBytes(6).toString('hex')}`;
        await (i % 2 ? store.addVersion(id, text(marker)) : store.updateAnnotations(id, { n: marker }, etags[i]!));
        return covered(marker);
      }),
    );
    expect(answers).toEqual(ids.map(() => true));
    expect(calls.log.synced.length - before).toBeLessThan(ids.length);
  });
});

describe('LocalFileStore erasure', () => {
  it.each([
    ['destroyVersion', (s: LocalFileStore) => s.destroyVersion('s', '1')],
    ['deleteSecret', (s: LocalFileStore) => s.deleteSecret('s')],
  ])('after %s the payload bytes are not in the journal any more, and a reopen still replays', async (_what, destroy) => {
    const dir = await tempDir();
    const store = open(dir);
    const { marker, payload } = marked();
    await store.createSecret('s', { labels: {}, annotations: {} });
    await store.addVersion('s', payload);
    await store.addVersion('s', text('kept'));
    await store.createSecret('t', { labels: {}, annotations: {} });
    expect((await readFile(journal(dir), 'latin1')).includes(marker)).toBe(true);
    await destroy(store);
    expect((await readFile(journal(dir), 'latin1')).includes(marker)).toBe(false);
    await store.close();
    const reopened = open(dir);
    expect((await reopened.getSecret('t')).id).toBe('t');
    expect(await reopened.listSecrets({ labels: {} }).then((p) => p.secrets.length)).toBe(_what === 'deleteSecret' ? 1 : 2);
  });

  it('zeroes on open a destroyed payload a crash left before its erasure', async () => {
    const dir = await tempDir();
    const calls = journalFs();
    const store = open(dir, { fs: calls.fs });
    const { marker, payload } = marked();
    await store.createSecret('s', { labels: {}, annotations: {} });
    await store.addVersion('s', payload);
    // The erasure's write fails after the DESTROYED record is durable: what a crash there leaves.
    calls.failNext('write', 'EIO', { skip: 1 });
    const destroying = store.destroyVersion('s', '1');
    await expect(destroying).rejects.toMatchObject({ code: 'unavailable' });
    expect((await readFile(journal(dir), 'latin1')).includes(marker)).toBe(true);
    expect((await store.listVersions('s')).map((v) => v.state)).toEqual(['DESTROYED']);
    expect((await readFile(journal(dir), 'latin1')).includes(marker)).toBe(false);
  });
});

describe('LocalFileStore failures', () => {
  it('cuts a torn append off again: the file keeps its length and the store stays usable', async () => {
    const dir = await tempDir();
    const calls = journalFs();
    const store = open(dir, { fs: calls.fs });
    const { etag } = await store.createSecret('s', { labels: {}, annotations: { phase: 'one' } });
    const size = (await stat(journal(dir))).size;
    calls.failNext('write', 'ENOSPC', { afterBytes: 7 });
    await expect(store.addVersion('s', text('big'))).rejects.toMatchObject({ code: 'unavailable' });
    expect((await stat(journal(dir))).size).toBe(size);
    expect(await store.listVersions('s')).toEqual([]);
    expect(await store.getSecret('s')).toMatchObject({ etag, annotations: { phase: 'one' } });
    expect(await store.addVersion('s', text('fits'))).toBe('1');
    await store.close();
    expect(decode((await open(dir).accessVersion('s', '1')).payload)).toBe('fits');
  });

  it('fails every call until it replays the file, when a torn append cannot be cut off', async () => {
    const dir = await tempDir();
    const calls = journalFs();
    const store = open(dir, { fs: calls.fs });
    await store.createSecret('s', { labels: {}, annotations: {} });
    calls.failNext('write', 'ENOSPC', { afterBytes: 7 });
    calls.failNext('truncate', 'EIO');
    await expect(store.addVersion('s', text('big'))).rejects.toMatchObject({ code: 'unavailable' });
    // The next call opens the journal again: the torn frame is cut by the replay.
    expect(await store.listVersions('s')).toEqual([]);
    expect(await store.addVersion('s', text('fits'))).toBe('1');
    expect(decode((await store.accessVersion('s')).payload)).toBe('fits');
  });

  it('rejects as unavailable the writes a failed fdatasync covered, and the next call replays from disk', async () => {
    const dir = await tempDir();
    const calls = journalFs();
    const store = open(dir, { fs: calls.fs });
    const { etag } = await store.createSecret('s', { labels: {}, annotations: { phase: 'one' } });
    await store.createSecret('t', { labels: {}, annotations: {} });
    calls.failNext('datasync', 'EIO');
    const results = await Promise.allSettled([store.updateAnnotations('s', { phase: 'two' }, etag), store.addVersion('t', text('x'))]);
    expect(results.map((r) => r.status === 'rejected' && isMeshlinkError(r.reason, 'unavailable'))).toEqual([true, true]);
    const reads = calls.log.reads;
    // Replayed: the frames reached the page cache, so the file has them (a real disk may not).
    expect((await store.getSecret('s')).annotations).toEqual({ phase: 'two' });
    expect(calls.log.reads).toBeGreaterThan(reads);
    expect(await store.addVersion('t', text('y'))).toBe('2');
  });

  it('cuts on open what follows the last whole frame (a torn append before a power loss)', async () => {
    const dir = await tempDir();
    const store = open(dir);
    await store.createSecret('s', { labels: {}, annotations: {} });
    const size = (await stat(journal(dir))).size;
    await store.addVersion('s', text('lost'));
    await store.close();
    await truncate(journal(dir), size + 20);
    const reopened = open(dir);
    expect(await reopened.listVersions('s')).toEqual([]);
    expect((await stat(journal(dir))).size).toBe(size);
    expect(await reopened.addVersion('s', text('again'))).toBe('1');
  });
});
