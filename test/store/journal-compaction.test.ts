// The local store journal is compacted once its garbage outweighs its live bytes past 1 MiB: the
// file shrinks, everything reads back, before and after a reopen.
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalFileStore } from '../../shared/store/local-file-store.js';
import { journalFs } from '../support/journal-fs.js';

const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);
const MiB = 1024 * 1024;

let work: string;
let dir: string;
beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'meshlink-compact-'));
  dir = path.join(work, 'store');
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const size = async () => (await stat(path.join(dir, 'store.journal'))).size;

describe('LocalFileStore compaction', () => {
  it('keeps the file under twice its live bytes past 1 MiB, with everything readable, concurrent writes included', async () => {
    const calls = journalFs();
    const store = new LocalFileStore(dir, { fs: calls.fs });
    const ids = ['a', 'b', 'c', 'd'];
    for (const id of ids) {
      await store.createSecret(id, { labels: { role: id }, annotations: {} });
      await store.addVersion(id, text(`first ${id}`));
    }
    await store.createSecret('gone', { labels: {}, annotations: {} });
    await store.addVersion('gone', text('GONE-PAYLOAD'));
    await store.deleteSecret('gone');
    await store.addVersion('a', text('DESTROYED-PAYLOAD'));
    await store.destroyVersion('a', '2');
    const big = 'x'.repeat(12 * 1024);
    let largest = 0;
    // 4 secrets x 40 rounds x 12 KiB of annotations: about 2 MiB appended, each round at once.
    for (let round = 0; round < 40; round++) {
      await Promise.all(
        ids.map(async (id) => {
          const { etag } = await store.getSecret(id);
          await store.updateAnnotations(id, { big, round: String(round) }, etag);
          if (round % 10 === 0) await store.addVersion(id, text(`${id} at ${round}`));
        }),
      );
      largest = Math.max(largest, await size());
    }
    // Live: 4 records of 12 KiB and a few payloads; compacted whenever garbage passed that past 1 MiB.
    expect(largest).toBeLessThan(1.2 * MiB);
    expect(await size()).toBeLessThan(MiB);
    const check = async (s: LocalFileStore) => {
      for (const id of ids) {
        expect((await s.getSecret(id)).annotations).toEqual({ big, round: '39' });
        expect(decode((await s.accessVersion(id)).payload)).toBe(`${id} at 30`);
        expect(decode((await s.accessVersion(id, '1')).payload)).toBe(`first ${id}`);
      }
      expect((await s.listVersions('a')).find((v) => v.version === '2')?.state).toBe('DESTROYED');
      expect((await s.listSecrets({ labels: {} })).secrets.map((m) => m.id).sort()).toEqual(ids);
    };
    await check(store);
    const raw = await readFile(path.join(dir, 'store.journal'), 'latin1');
    expect(raw.includes('GONE-PAYLOAD') || raw.includes('DESTROYED-PAYLOAD')).toBe(false);
    expect((await readdir(dir)).sort()).toEqual(['store.journal', 'store.lock']);
    await store.close();
    const reopened = new LocalFileStore(dir);
    try {
      await check(reopened);
    } finally {
      await reopened.close();
    }
  });

  it('switches files while an fdatasync is in flight, and closes the old one only once it has settled', async () => {
    const calls = journalFs();
    const store = new LocalFileStore(dir, { fs: calls.fs });
    let release = () => {};
    try {
      await store.createSecret('a', { labels: {}, annotations: {} });
      await store.createSecret('b', { labels: {}, annotations: {} });
      const big = 'x'.repeat(12 * 1024);
      const update = async (id: string, n: number) => store.updateAnnotations(id, { big, n: String(n) }, (await store.getSecret(id)).etag);
      let n = 0;
      while ((await size()) < MiB - 13 * 1024) await update('a', n++);
      // This update's append passes 1 MiB; its fdatasync is held, and the next append compacts.
      const held = calls.holdNextSync();
      release = held.release;
      const crossing = update('a', n++);
      await held.reached;
      expect(await size()).toBeGreaterThan(MiB);
      const after = update('b', 0);
      await vi.waitFor(async () => expect(await size()).toBeLessThan(100 * 1024));
      expect(calls.log.closed).toEqual([]);
      held.release();
      await Promise.all([crossing, after]);
      expect(calls.log.closed).toHaveLength(1);
      expect((await store.getSecret('a')).annotations.n).toBe(String(n - 1));
      expect((await store.getSecret('b')).annotations.n).toBe('0');
    } finally {
      release();
      await store.close();
    }
  });
});
