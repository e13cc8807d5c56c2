// The local store journal's descriptor calls over the real file system, counted and failable:
// each fdatasync is counted with the file size it covers (the size when it started), reads are
// counted, closes logged, `holdNextSync` pauses an fdatasync, and `failNext` makes the next call
// of a kind throw (ENOSPC, EIO) before it runs.
import fs from 'node:fs';
import { nodeJournalFs, type JournalFs } from '../../shared/store/journal-file.js';

type Failable = 'write' | 'datasync' | 'truncate';

export function journalFs() {
  const failures = new Map<Failable, { code: string; afterBytes?: number; skip: number }>();
  const log = {
    /** fdatasyncs that returned, each with the size it covered. */
    synced: [] as number[],
    /** fdatasyncs started and not returned yet. */
    syncing: 0,
    reads: 0,
    writes: 0,
    /** Descriptors closed, in order. */
    closed: [] as number[],
  };
  let hold: { reached: () => void; until: Promise<void> } | undefined;
  const failure = (kind: Failable) => {
    const f = failures.get(kind);
    if (f && f.skip-- > 0) return undefined;
    if (f) failures.delete(kind);
    return f;
  };
  const fail = (code: string) => Object.assign(new Error(`injected ${code}`), { code });
  const calls: Partial<JournalFs> = {
    read(fd, into, position) {
      log.reads++;
      return nodeJournalFs.read(fd, into, position);
    },
    write(fd, data, position) {
      const f = failure('write');
      if (f?.afterBytes !== undefined) {
        // A write torn by a full disk: part of it lands, then the error.
        nodeJournalFs.write(fd, data.subarray(0, Math.min(f.afterBytes, data.length)), position);
        throw fail(f.code);
      }
      if (f) throw fail(f.code);
      log.writes++;
      return nodeJournalFs.write(fd, data, position);
    },
    truncate(fd, length) {
      const f = failure('truncate');
      if (f) throw fail(f.code);
      nodeJournalFs.truncate(fd, length);
    },
    async datasync(fd) {
      const f = failure('datasync');
      const size = fs.fstatSync(fd).size;
      log.syncing++;
      try {
        if (hold) {
          const h = hold;
          hold = undefined;
          h.reached();
          await h.until;
        }
        if (f) throw fail(f.code);
        await nodeJournalFs.datasync(fd);
      } finally {
        log.syncing--;
      }
      log.synced.push(size);
    },
    close(fd) {
      log.closed.push(fd);
      nodeJournalFs.close(fd);
    },
  };
  return {
    fs: calls,
    log,
    /** The next fdatasync waits for `release()`; `reached` resolves once it waits. */
    holdNextSync() {
      let release!: () => void;
      let reached!: () => void;
      const until = new Promise<void>((r) => (release = r));
      const waiting = new Promise<void>((r) => (reached = r));
      hold = { reached, until };
      return { reached: waiting, release };
    },
    /** The next call of `kind` (after `skip` more) fails with `code` (a write after landing `afterBytes` of its bytes). */
    failNext(kind: Failable, code: string, options: { afterBytes?: number; skip?: number } = {}) {
      failures.set(kind, { code, skip: options.skip ?? 0, ...(options.afterBytes === undefined ? {} : { afterBytes: options.afterBytes }) });
    },
  };
}
