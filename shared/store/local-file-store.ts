// The embedded default SecretStore: every secret of a directory in one append-only journal,
// `<dir>/store.journal` (mode 0600, directory 0700; journal-file.ts), each write durable before
// the call returns, the writes made at once sharing one fdatasync. A directory in the former
// layout (a directory per secret) is imported when the store first opens it.
import path from 'node:path';
import { MeshlinkError } from '../errors.js';
import type { Clock } from '../clock.js';
import { unlockDirectory } from './directory-lock.js';
import { Journal, nodeJournalFs, type JournalFs } from './journal-file.js';
import type { SecretRecord } from './model.js';
import { RecordStore, type RecordBackend } from './record-store.js';

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** File system failures in port terms: refused access is permission-denied, the rest transient. */
async function guard<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof MeshlinkError) throw err;
    const code = errno(err) === 'EACCES' || errno(err) === 'EPERM' ? 'permission-denied' : 'unavailable';
    throw new MeshlinkError(code, `cannot ${what}: ${errno(err) ?? 'I/O error'}`, { cause: err });
  }
}

/**
 * The open journal of each directory: one per process (its appends must not interleave with
 * another descriptor's), shared by the stores on that directory as their locks are. The store is
 * the only process on its directory (README): it keeps what it wrote in memory.
 */
const journals = new Map<string, Promise<Journal>>();

class JournalBackend implements RecordBackend {
  readonly lockScope: string;

  constructor(
    private readonly root: string,
    private readonly fsc: JournalFs,
  ) {
    this.lockScope = `file:${root}`;
  }

  /** The journal, opened (replayed) by the first call, and again after it failed or after a failed attempt. */
  private async journal(): Promise<Journal> {
    const current = journals.get(this.root);
    const journal = await current?.catch(() => undefined);
    if (journal && !journal.failed) return journal;
    if (journals.get(this.root) === current) {
      journals.set(
        this.root,
        Journal.open(this.root, this.fsc).catch((err: unknown) => {
          journals.delete(this.root);
          throw err;
        }),
      );
    }
    return journals.get(this.root)!;
  }

  private guarded<T>(what: string, work: (journal: Journal) => T | Promise<T>): Promise<T> {
    return guard(what, async () => work(await this.journal()));
  }

  read(id: string): Promise<SecretRecord | undefined> {
    return this.guarded(`read secret ${id}`, (j) => j.record(id));
  }

  write(record: SecretRecord, create: boolean): Promise<void> {
    return this.guarded(`write secret ${record.id}`, async (j) => {
      if (create && j.has(record.id)) throw new MeshlinkError('already-exists', `secret ${record.id} already exists`);
      j.append({ op: 'put', record });
      await j.durable();
    });
  }

  remove(id: string): Promise<void> {
    return this.guarded(`delete secret ${id}`, async (j) => {
      if (!j.has(id)) return;
      const erasure = j.append({ op: 'delete', id });
      await j.durable();
      // Key material goes now, not at the next compaction: zeroed once the delete is on disk.
      await j.erase(erasure);
    });
  }

  readAll(): Promise<SecretRecord[]> {
    return this.guarded(`list ${this.root}`, (j) => j.allRecords());
  }

  writeVersion(record: SecretRecord, version: number, payload: Uint8Array): Promise<void> {
    // The record and its payload in one frame: no order between two writes to keep.
    return this.guarded(`write version ${version} of secret ${record.id}`, async (j) => {
      j.append({ op: 'version', record, version }, payload);
      await j.durable();
    });
  }

  readPayload(id: string, version: number): Promise<Uint8Array | undefined> {
    return this.guarded(`read version ${version} of secret ${id}`, (j) => j.payload(id, version));
  }

  erasePayload(id: string, version: number): Promise<void> {
    return this.guarded(`destroy version ${version} of secret ${id}`, (j) => j.erasePayload(id, version));
  }

  async close(): Promise<void> {
    const current = journals.get(this.root);
    journals.delete(this.root);
    await (await current?.catch(() => undefined))?.close();
    if (!journals.has(this.root)) unlockDirectory(this.root); // not opened again meanwhile
  }
}

export class LocalFileStore extends RecordStore {
  private readonly journalBackend: JournalBackend;

  /** `fs`: the journal's descriptor calls (tests replace some to fail them or see them). */
  constructor(dir: string, options: { clock?: Clock; fs?: Partial<JournalFs> } = {}) {
    const backend = new JournalBackend(path.resolve(dir), { ...nodeJournalFs, ...options.fs });
    super(backend, options.clock ? { clock: options.clock } : {});
    this.journalBackend = backend;
  }

  /**
   * Closes the directory's journal, for every store on it, and gives the directory back to other
   * processes; the next call takes it, opens and replays the journal again.
   */
  close(): Promise<void> {
    return this.journalBackend.close();
  }
}
