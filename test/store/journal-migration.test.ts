// A state directory in the local store's former layout (a directory per secret: meta.json and
// versions/<n>, schema 1) is imported into the journal when the store first opens it.
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crc32c } from '../../shared/store/crc32c.js';
import { LocalFileStore } from '../../shared/store/local-file-store.js';
import { isMeshlinkError } from '../../shared/errors.js';

const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

let work: string;
let dir: string;
beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'meshlink-migrate-'));
  dir = path.join(work, 'store');
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

interface OldVersion {
  state: 'ENABLED' | 'DISABLED' | 'DESTROYED';
  /** The payload file's content; none: no file. */
  file?: string;
  /** The payload the record's crc32c is of (the file's by default). */
  crcOf?: string;
}

/** One secret as the former store wrote it. */
async function oldSecret(id: string, meta: { labels: Record<string, string>; annotations: Record<string, string>; etag: string }, versions: OldVersion[]): Promise<void> {
  await mkdir(path.join(dir, id, 'versions'), { recursive: true, mode: 0o700 });
  const record = {
    schema: 1,
    id,
    ...meta,
    createTime: '2026-01-02T03:04:05.000Z',
    versions: versions.map((v, i) => ({ version: i + 1, state: v.state, createTime: `2026-01-0${i + 3}T00:00:00.000Z`, crc32c: crc32c(text(v.crcOf ?? v.file ?? '')) })),
  };
  await writeFile(path.join(dir, id, 'meta.json'), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  for (const [i, v] of versions.entries()) if (v.file !== undefined) await writeFile(path.join(dir, id, 'versions', String(i + 1)), v.file, { mode: 0o600 });
}

describe('LocalFileStore on a directory in the former layout', () => {
  beforeEach(async () => {
    await oldSecret('meshlink-a-ca', { labels: { 'meshlink-link': 'a', 'meshlink-role': 'ca' }, annotations: { 'meshlink.io-phase': 'stable' }, etag: '"0123456789abcdef"' }, [
      { state: 'DESTROYED' },
      { state: 'DISABLED', file: 'ca one' },
      { state: 'ENABLED', file: 'ca two' },
    ]);
    await oldSecret('meshlink-a-server', { labels: { 'meshlink-link': 'a' }, annotations: {}, etag: '"fedcba9876543210"' }, [
      { state: 'ENABLED', file: 'leaf' },
      { state: 'ENABLED', file: 'torn', crcOf: 'whole' },
    ]);
    // What the former store's killed writes left.
    await mkdir(path.join(dir, '.meshlink-b-ca.new-deadbeef', 'versions'), { recursive: true });
    await mkdir(path.join(dir, '.meshlink-c-ca.deleted-deadbeef-0123456789ab', 'versions'), { recursive: true });
    await writeFile(path.join(dir, '.meshlink-c-ca.deleted-deadbeef-0123456789ab', 'versions', '1'), 'key material');
    await writeFile(path.join(dir, 'meshlink-a-ca', 'meta.json.tmp-deadbeef'), '{"torn":');
  });

  it('imports every secret: labels, annotations, etags, versions and payloads; the old directories are gone', async () => {
    const store = new LocalFileStore(dir);
    try {
      const page = await store.listSecrets({ labels: { 'meshlink-link': 'a' } });
      expect(page.secrets.map((s) => s.id).sort()).toEqual(['meshlink-a-ca', 'meshlink-a-server']);
      expect(await store.getSecret('meshlink-a-ca')).toEqual({
        id: 'meshlink-a-ca',
        labels: { 'meshlink-link': 'a', 'meshlink-role': 'ca' },
        annotations: { 'meshlink.io-phase': 'stable' },
        etag: '"0123456789abcdef"',
        createTime: '2026-01-02T03:04:05.000Z',
      });
      expect((await store.listVersions('meshlink-a-ca')).map((v) => [v.version, v.state, v.createTime])).toEqual([
        ['3', 'ENABLED', '2026-01-05T00:00:00.000Z'],
        ['2', 'DISABLED', '2026-01-04T00:00:00.000Z'],
        ['1', 'DESTROYED', '2026-01-03T00:00:00.000Z'],
      ]);
      expect(decode((await store.accessVersion('meshlink-a-ca')).payload)).toBe('ca two');
      expect(decode((await store.accessVersion('meshlink-a-server', '1')).payload)).toBe('leaf');
      // A payload that did not match its crc32c was refused before, and is not imported.
      const torn = await store.accessVersion('meshlink-a-server', '2').catch((e: unknown) => e);
      expect(isMeshlinkError(torn, 'internal')).toBe(true);
      expect((await readdir(dir)).sort()).toEqual(['store.journal', 'store.lock']);
      expect(await store.addVersion('meshlink-a-ca', text('ca three'))).toBe('4');
      await store.updateAnnotations('meshlink-a-ca', { 'meshlink.io-phase': 'next' }, '"0123456789abcdef"');
    } finally {
      await store.close();
    }
    const reopened = new LocalFileStore(dir);
    try {
      expect(decode((await reopened.accessVersion('meshlink-a-ca')).payload)).toBe('ca three');
      expect((await reopened.getSecret('meshlink-a-ca')).annotations).toEqual({ 'meshlink.io-phase': 'next' });
    } finally {
      await reopened.close();
    }
  });

  it('removes old directories a crash left beside the journal after the rename, without importing them again', async () => {
    const copy = path.join(work, 'copy');
    await cp(dir, copy, { recursive: true });
    const store = new LocalFileStore(dir);
    await store.deleteSecret('meshlink-a-server');
    await store.close();
    // The journal is in place and the old directories are back: a crash before they were removed.
    for (const name of await readdir(copy)) await cp(path.join(copy, name), path.join(dir, name), { recursive: true });
    const reopened = new LocalFileStore(dir);
    try {
      expect((await reopened.listSecrets({ labels: {} })).secrets.map((s) => s.id)).toEqual(['meshlink-a-ca']);
      expect((await readdir(dir)).sort()).toEqual(['store.journal', 'store.lock']);
    } finally {
      await reopened.close();
    }
  });

  it('removes the temp file of a killed import or compaction, and imports again', async () => {
    await writeFile(path.join(dir, 'store.journal.compact-deadbeef-0123456789ab'), 'half a journal');
    const store = new LocalFileStore(dir);
    try {
      expect(decode((await store.accessVersion('meshlink-a-ca')).payload)).toBe('ca two');
      expect((await readdir(dir)).sort()).toEqual(['store.journal', 'store.lock']);
    } finally {
      await store.close();
    }
  });
});
