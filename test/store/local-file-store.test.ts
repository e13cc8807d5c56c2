// The local file store: the SecretStore contract, plus its on-disk layout, modes and crash safety.
import fs from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { manualClock } from '../support/clock.js';
import { isMeshlinkError } from '../../shared/errors.js';
import { LocalFileStore } from '../../shared/store/local-file-store.js';
import { describeSecretStoreContract } from './contract.js';
import { recordingFs } from '../support/recording-fs.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshlink-store-'));
  dirs.push(dir);
  return path.join(dir, 'secrets');
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describeSecretStoreContract('LocalFileStore', async () => {
  const clock = manualClock();
  return { store: new LocalFileStore(await tempDir(), { clock }), advance: (ms) => clock.advance(ms) };
});

const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);
const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe('LocalFileStore on disk', () => {
  let dir: string;
  let store: LocalFileStore;

  beforeEach(async () => {
    dir = await tempDir();
    store = new LocalFileStore(dir);
    await store.createSecret('s', { labels: { role: 'ca' }, annotations: { phase: 'active' } });
    await store.addVersion('s', text('one'));
    await store.addVersion('s', text('two'));
  });

  it('lays out meta.json and one payload file per version', async () => {
    expect((await readdir(dir)).sort()).toEqual(['s']);
    expect((await readdir(path.join(dir, 's'))).sort()).toEqual(['meta.json', 'versions']);
    expect((await readdir(path.join(dir, 's', 'versions'))).sort()).toEqual(['1', '2']);
    expect(await readFile(path.join(dir, 's', 'versions', '2'), 'utf8')).toBe('two');
    const meta = JSON.parse(await readFile(path.join(dir, 's', 'meta.json'), 'utf8'));
    expect(meta).toMatchObject({ id: 's', labels: { role: 'ca' }, annotations: { phase: 'active' } });
    expect(meta.versions.map((v: { state: string }) => v.state)).toEqual(['ENABLED', 'ENABLED']);
  });

  it.each([
    ['the store directory', [], 0o700],
    ['a secret directory', ['s'], 0o700],
    ['the versions directory', ['s', 'versions'], 0o700],
    ['meta.json', ['s', 'meta.json'], 0o600],
    ['a payload file', ['s', 'versions', '1'], 0o600],
  ])('gives %s mode %o', async (_what, parts, expected) => {
    await store.updateAnnotations('s', { phase: 'next' }, (await store.getSecret('s')).etag);
    expect(await mode(path.join(dir, ...parts))).toBe(expected);
  });

  it('deletes the payload file of a destroyed version', async () => {
    await store.destroyVersion('s', '1');
    expect(await readdir(path.join(dir, 's', 'versions'))).toEqual(['2']);
  });

  it('removes the whole directory of a deleted secret', async () => {
    await store.deleteSecret('s');
    expect(await readdir(dir)).toEqual([]);
  });

  it('keeps the old content when a write was interrupted before its rename', async () => {
    const before = await store.getSecret('s');
    // What a crash between writing the temp file and renaming it leaves behind.
    await writeFile(path.join(dir, 's', 'meta.json.tmp-deadbeef'), '{"torn":', { mode: 0o600 });
    await writeFile(path.join(dir, 's', 'versions', '3.tmp-deadbeef'), 'partial', { mode: 0o600 });
    await writeFile(path.join(dir, '.t.new-deadbeef'), '', { mode: 0o600 });
    const reopened = new LocalFileStore(dir);
    expect(await reopened.getSecret('s')).toEqual(before);
    expect((await reopened.listSecrets({ labels: {} })).secrets.map((s) => s.id)).toEqual(['s']);
    expect(await reopened.addVersion('s', text('three'))).toBe('3');
    expect(decode((await reopened.accessVersion('s')).payload)).toBe('three');
    const updated = await reopened.updateAnnotations('s', { phase: 'next' }, before.etag);
    expect((await reopened.getSecret('s')).etag).toBe(updated.etag);
  });

  it.each([
    ['after the payload of version 3 was written but not recorded', async () => writeFile(path.join(dir, 's', 'versions', '3'), 'orphan', { mode: 0o600 })],
    ['while the payload of version 3 was being written', async () => writeFile(path.join(dir, 's', 'versions', '3.tmp-0badc0de'), 'half', { mode: 0o600 })],
  ])('completes the next addVersion after a crash %s', async (_when, crash) => {
    await crash();
    expect(await store.addVersion('s', text('three'))).toBe('3');
    expect(decode((await store.accessVersion('s')).payload)).toBe('three');
  });

  it('erases a payload left behind by a crash during destroy when the destroy is repeated', async () => {
    await store.destroyVersion('s', '1');
    // A crash between recording DESTROYED and unlinking would leave the file.
    await writeFile(path.join(dir, 's', 'versions', '1'), 'one', { mode: 0o600 });
    await store.destroyVersion('s', '1');
    expect(await readdir(path.join(dir, 's', 'versions'))).toEqual(['2']);
  });

  it('persists across store instances', async () => {
    const reopened = new LocalFileStore(dir);
    expect(decode((await reopened.accessVersion('s', '1')).payload)).toBe('one');
    expect(await reopened.listVersions('s')).toEqual(await store.listVersions('s'));
  });

  it('serialises updates from two store instances on the same directory', async () => {
    const other = new LocalFileStore(dir);
    const { etag } = await store.getSecret('s');
    const results = await Promise.allSettled([store.updateAnnotations('s', { by: 'one' }, etag), other.updateAnnotations('s', { by: 'two' }, etag)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('reports a corrupted payload file as internal', async () => {
    await writeFile(path.join(dir, 's', 'versions', '2'), 'tampered');
    const err = await store.accessVersion('s', '2').catch((e: unknown) => e);
    expect(isMeshlinkError(err, 'internal')).toBe(true);
  });

  it('lists metadata without reading payload files', async () => {
    // With every payload gone, a listing that touched one would fail.
    for (const v of ['1', '2']) await unlink(path.join(dir, 's', 'versions', v));
    const page = await store.listSecrets({ labels: { role: 'ca' } });
    expect(page.secrets.map((s) => s.id)).toEqual(['s']);
  });

  it('lists nothing from a directory that does not exist yet', async () => {
    const fresh = new LocalFileStore(path.join(dir, 'not-yet'));
    expect(await fresh.listSecrets({ labels: {} })).toEqual({ secrets: [] });
  });
});

describe('LocalFileStore records in memory (the only process on its directory)', () => {
  /** meta.json files read from disk while `work` runs (a secret not there yet is looked for on disk). */
  async function metaReads(work: () => Promise<unknown>): Promise<string[]> {
    const read = vi.spyOn(fs, 'readFileSync');
    try {
      await work();
      return read.mock.calls.map(([file]) => String(file)).filter((file, i) => file.endsWith('meta.json') && read.mock.results[i]!.type === 'return');
    } finally {
      read.mockRestore();
    }
  }

  it('reads no record it wrote, from any store on the directory, and one it did not write once', async () => {
    const dir = await tempDir();
    const store = new LocalFileStore(dir);
    const reads = await metaReads(async () => {
      await store.createSecret('s', { labels: { role: 'ca' }, annotations: {} });
      await store.addVersion('s', text('one'));
      const { etag } = await store.getSecret('s');
      await store.updateAnnotations('s', { phase: 'next' }, etag);
      await store.listVersions('s');
      await new LocalFileStore(dir).getSecret('s');
      expect((await store.listSecrets({ labels: { role: 'ca' } })).secrets.map((m) => m.annotations)).toEqual([{ phase: 'next' }]);
    });
    expect(reads).toEqual([]);

    // A secret this process never saw (as after a restart): read from disk once.
    await cp(path.join(dir, 's'), path.join(dir, 't'), { recursive: true });
    const other = await metaReads(async () => {
      await store.getSecret('t');
      await store.listVersions('t');
      expect(decode((await store.accessVersion('t', '1')).payload)).toBe('one');
    });
    expect(other).toEqual([path.join(dir, 't', 'meta.json')]);
  });

  it('reads the record from disk again after a write that failed (the disk holds the old one or the new)', async () => {
    const dir = await tempDir();
    const recorder = recordingFs(path.dirname(dir));
    let failing = false;
    const store = new LocalFileStore(dir, {
      fs: { ...recorder.fs, rename: async (from, to) => (failing ? Promise.reject(Object.assign(new Error('I/O'), { code: 'EIO' })) : recorder.fs.rename(from, to)) },
    });
    const { etag } = await store.createSecret('s', { labels: {}, annotations: { phase: 'one' } });
    failing = true;
    await expect(store.updateAnnotations('s', { phase: 'two' }, etag)).rejects.toMatchObject({ code: 'unavailable' });
    failing = false;
    let meta;
    expect(await metaReads(async () => (meta = await store.getSecret('s')))).toHaveLength(1);
    expect(meta).toMatchObject({ annotations: { phase: 'one' }, etag });
  });

  it('hands out copies: changing what a read returned changes nothing kept', async () => {
    const store = new LocalFileStore(await tempDir());
    await store.createSecret('s', { labels: { role: 'ca' }, annotations: { phase: 'one' } });
    (await store.getSecret('s')).annotations.phase = 'changed';
    expect((await store.getSecret('s')).annotations).toEqual({ phase: 'one' });
  });
});

describe('LocalFileStore after a kill', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await tempDir();
    const store = new LocalFileStore(dir);
    await store.createSecret('s', { labels: {}, annotations: {} });
    await store.addVersion('s', text('one'));
  });

  const tree = async () => (await readdir(dir, { recursive: true })).sort();

  it('removes, when it opens, the temp files and staging directories killed writes left, and nothing else', async () => {
    const before = await tree();
    await writeFile(path.join(dir, 's', 'meta.json.tmp-deadbeef'), '{"torn":', { mode: 0o600 });
    await writeFile(path.join(dir, 's', 'versions', '2.tmp-0badc0de'), 'key material', { mode: 0o600 });
    await writeFile(path.join(dir, 's', 'versions', '3.tmp-0badc0de-0123456789ab'), 'key material', { mode: 0o600 });
    await mkdir(path.join(dir, '.t.new-deadbeef', 'versions'), { recursive: true });
    await writeFile(path.join(dir, '.t.new-deadbeef', 'meta.json.tmp-deadbeef'), '{}');
    await mkdir(path.join(dir, '.u.deleted-deadbeef', 'versions'), { recursive: true });
    await writeFile(path.join(dir, '.u.deleted-deadbeef', 'versions', '1'), 'key material');
    const reopened = new LocalFileStore(dir);
    expect(decode((await reopened.accessVersion('s')).payload)).toBe('one');
    expect(await tree()).toEqual(before);
  });

  it('leaves alone the temp file of a write in flight in this process', async () => {
    const recorder = recordingFs(dir);
    const writer = new LocalFileStore(dir, { fs: recorder.fs });
    await writer.getSecret('s'); // opened
    const held = recorder.hold();
    const adding = writer.addVersion('s', text('two'));
    await held.reached;
    expect((await readdir(path.join(dir, 's'))).filter((n) => n.includes('.tmp-'))).toHaveLength(1);
    await new LocalFileStore(dir).getSecret('s'); // another store opens meanwhile
    held.release();
    expect(await adding).toBe('2');
    expect(decode((await writer.accessVersion('s')).payload)).toBe('two');
  });
});

/** `events` with the entries at positions `from` up to `to` (exclusive) sorted: calls made at once, in any order. */
const unordered = (events: string[], from: number, to: number) => [...events.slice(0, from), ...events.slice(from, to).sort(), ...events.slice(to)];

describe('LocalFileStore durability', () => {
  it('writes, fsyncs the file, renames, then fsyncs the directory; a new directory is synced in its parent', async () => {
    const dir = await tempDir();
    const { fs, events } = recordingFs(path.dirname(dir));
    const store = new LocalFileStore(dir, { fs });
    const meta = (secret: string) => [`write ${secret}/meta.json.tmp-*`, `fsync ${secret}/meta.json.tmp-*`, `rename ${secret}/meta.json.tmp-* -> ${secret}/meta.json`, `fsync ${secret}`];

    // A new secret's meta.json is written in place in its staging directory (which nothing
    // reads), and it and the directory's entries are fsynced at once before the rename.
    await store.createSecret('s', { labels: {}, annotations: {} });
    expect(unordered(events.splice(0), 4, 6)).toEqual([
      'mkdir secrets',
      'fsync .',
      'mkdir secrets/.s.new-*/versions',
      'write secrets/.s.new-*/meta.json',
      'fsync secrets/.s.new-*',
      'fsync secrets/.s.new-*/meta.json',
      'rename secrets/.s.new-* -> secrets/s',
      'fsync secrets',
    ]);

    // A version's payload is written in place (no record names versions/1 yet) and fsynced with
    // its directory and the record's temp file, all at once; then the record is renamed.
    await store.addVersion('s', text('one'));
    const staged = events.splice(0);
    expect(staged[0]).toBe('mkdir secrets/s/versions (exists)');
    expect(staged.slice(1, 6).sort()).toEqual([
      'fsync secrets/s/meta.json.tmp-*',
      'fsync secrets/s/versions',
      'fsync secrets/s/versions/1',
      'write secrets/s/meta.json.tmp-*',
      'write secrets/s/versions/1',
    ]);
    for (const file of ['secrets/s/meta.json.tmp-*', 'secrets/s/versions/1']) expect(staged.indexOf(`write ${file}`)).toBeLessThan(staged.indexOf(`fsync ${file}`));
    expect(staged.slice(6)).toEqual(['rename secrets/s/meta.json.tmp-* -> secrets/s/meta.json', 'fsync secrets/s']);

    await store.destroyVersion('s', '1');
    expect(events.splice(0)).toEqual([...meta('secrets/s'), 'unlink secrets/s/versions/1', 'fsync secrets/s/versions']);

    await store.deleteSecret('s');
    expect(events.splice(0)).toEqual(['rename secrets/s -> secrets/.s.deleted-*', 'fsync secrets', 'rm secrets/.s.deleted-*']);
  });

  it.each([
    ['the payload', 'secrets/s/versions/1'],
    ['the payload\'s directory entry', 'secrets/s/versions'],
  ])('stages the record while %s is fsynced, and renames it only once that is durable', async (_what, slowFile) => {
    const dir = await tempDir();
    const recorder = recordingFs(path.dirname(dir));
    const store = new LocalFileStore(dir, { fs: recorder.fs });
    await store.createSecret('s', { labels: {}, annotations: {} });
    recorder.events.splice(0);
    const slow = recorder.holdSync(slowFile);

    const adding = store.addVersion('s', text('one'));
    await slow.reached;
    // The record's temp file is written and fsynced meanwhile; nothing is renamed.
    await vi.waitFor(() => expect(recorder.events).toContain('fsync secrets/s/meta.json.tmp-*'));
    expect(recorder.events.filter((e) => e.startsWith('rename'))).toEqual([]);
    slow.release();
    expect(await adding).toBe('1');
    expect(recorder.events.slice(-3)).toEqual([`fsync ${slowFile}`, 'rename secrets/s/meta.json.tmp-* -> secrets/s/meta.json', 'fsync secrets/s']);
  });

  it('removes the record\'s temp file when the payload cannot be written, and adds no version', async () => {
    const dir = await tempDir();
    const recorder = recordingFs(path.dirname(dir));
    const failing = { ...recorder.fs, open: async (file: string, flags: string, mode?: number) => (file.includes('/versions/') ? Promise.reject(Object.assign(new Error('disk full'), { code: 'ENOSPC' })) : recorder.fs.open(file, flags, mode)) };
    const store = new LocalFileStore(dir, { fs: failing });
    await store.createSecret('s', { labels: {}, annotations: {} });

    await expect(store.addVersion('s', text('one'))).rejects.toMatchObject({ code: 'unavailable' });

    expect(await store.listVersions('s')).toEqual([]);
    expect((await readdir(path.join(dir, 's'), { recursive: true })).sort()).toEqual(['meta.json', 'versions']);
  });
});
