// The embedded default SecretStore: one directory per secret, metadata in meta.json and each
// version's payload in versions/<n>; files 0600, directories 0700, every write atomic and durable
// (shared/durable-file.ts) before the call returns, the fsyncs that do not depend on each other
// made at once. Opening the store (its first call) removes what killed writes left.
import path from 'node:path';
import { MeshlinkError } from '../errors.js';
import { readdir, readFile, readText } from '../fs-calls.js';
import type { Clock } from '../clock.js';
import { commitFile, discardStaged, ensureDir, leftByOtherProcess, nodeFs, stageFile, syncDir, tempSuffix, writeDurably, writeUnnamed, type DurableFs } from '../durable-file.js';
import { cloneRecord, type SecretRecord, type VersionRecord } from './model.js';
import { setBounded } from '../bounded-map.js';
import { RecordStore, type RecordBackend } from './record-store.js';

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const META = 'meta.json';
const VERSIONS = 'versions';
/** Format marker in meta.json, so a future layout change can be recognised. */
const SCHEMA = 1;
/** How many meta.json files a listing reads at once. */
const READ_CONCURRENCY = 32;

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function isMissing(err: unknown): boolean {
  return errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR';
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

/** `fn` over every item, READ_CONCURRENCY at a time; results in order. */
async function inBatches<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += READ_CONCURRENCY) results.push(...(await Promise.all(items.slice(i, i + READ_CONCURRENCY).map(fn))));
  return results;
}

/** Hidden entries of the root are staging or deleted directories; the others are secrets. */
const isHidden = (name: string) => name.startsWith('.');

/** The names in a directory; none if it is not there. */
async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

/**
 * Records as this process last read or wrote them, by directory and id: the store is the only
 * process on its directory (README), so a record need not be read and parsed again (a create read
 * each of its secrets' meta.json 3 to 4 times). Shared by the stores on one directory, as their
 * locks are; bounded (a sweep of more secrets reads the others from disk); entries are copies; a
 * write that fails drops its entry, as the disk may hold the old record or the new.
 */
const records = new Map<string, SecretRecord>();
const RECORDS_KEPT = 4_096;

interface MetaFile extends SecretRecord {
  schema: number;
}

function parseMeta(text: string, file: string): SecretRecord {
  let meta: Partial<MetaFile>;
  try {
    meta = JSON.parse(text) as Partial<MetaFile>;
  } catch (err) {
    throw new MeshlinkError('internal', `unreadable secret metadata ${file}`, { cause: err });
  }
  if (meta.schema !== SCHEMA || typeof meta.id !== 'string' || typeof meta.etag !== 'string' || !Array.isArray(meta.versions)) {
    throw new MeshlinkError('internal', `unexpected secret metadata format in ${file}`);
  }
  const versions: VersionRecord[] = meta.versions.map((v) => ({ version: v.version, state: v.state, createTime: v.createTime, crc32c: v.crc32c }));
  return { id: meta.id, labels: meta.labels ?? {}, annotations: meta.annotations ?? {}, etag: meta.etag, createTime: meta.createTime ?? '', versions };
}

class FileBackend implements RecordBackend {
  readonly lockScope: string;
  private opened: Promise<void> | undefined;

  constructor(
    private readonly root: string,
    private readonly fs: DurableFs,
  ) {
    this.lockScope = `file:${root}`;
  }

  /** Every call opens the store first: once, and again after a failed attempt. */
  private guarded<T>(what: string, work: () => Promise<T>): Promise<T> {
    return guard(what, async () => {
      this.opened ??= this.removeDebris().catch((err: unknown) => {
        this.opened = undefined;
        throw err;
      });
      await this.opened;
      return work();
    });
  }

  /**
   * Removes what killed writes left, never this process's writes in flight (durable-file.ts): a
   * new secret's staging directory (`.<id>.new-*`) or a deleted one's (`.<id>.deleted-*`: all its
   * versions), and temp files of meta.json or of a payload (`<id>/meta.json.tmp-*`, and
   * `<id>/versions/<n>.tmp-*`, which versions before payloads were written in place left: a
   * payload's holds key material). None of them is ever read. A payload no record names yet
   * (`versions/<n>` of a killed addVersion) is overwritten by the next version of that number.
   */
  private async removeDebris(): Promise<void> {
    const entries = await namesIn(this.root);
    const remove = (at: string) => this.fs.rm(at, { recursive: true, force: true });
    for (const name of entries.filter((n) => isHidden(n) && (leftByOtherProcess(n, 'new') || leftByOtherProcess(n, 'deleted')))) await remove(path.join(this.root, name));
    await inBatches(entries.filter((n) => !isHidden(n)), async (id) => {
      for (const dir of [this.secretDir(id), path.join(this.secretDir(id), VERSIONS)]) {
        for (const name of await namesIn(dir)) if (leftByOtherProcess(name, 'tmp')) await remove(path.join(dir, name));
      }
    });
  }

  private secretDir(id: string): string {
    return path.join(this.root, id);
  }

  private payloadFile(id: string, version: number): string {
    return path.join(this.root, id, VERSIONS, String(version));
  }

  private metaText(record: SecretRecord): string {
    const meta: MetaFile = { schema: SCHEMA, ...record };
    return `${JSON.stringify(meta, null, 2)}\n`;
  }

  private cacheKey(id: string): string {
    return `${this.root}\0${id}`;
  }

  /** `write` changes the record on disk to `record`, and the cache with it once that is done. */
  private async caching(record: SecretRecord, write: () => Promise<void>): Promise<void> {
    const key = this.cacheKey(record.id);
    records.delete(key);
    await write();
    setBounded(records, RECORDS_KEPT, key, cloneRecord(record));
  }

  read(id: string): Promise<SecretRecord | undefined> {
    return this.guarded(`read secret ${id}`, async () => {
      const kept = records.get(this.cacheKey(id));
      if (kept) return cloneRecord(kept);
      const file = path.join(this.secretDir(id), META);
      let record: SecretRecord;
      try {
        record = parseMeta(await readText(file), file);
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
      setBounded(records, RECORDS_KEPT, this.cacheKey(id), cloneRecord(record));
      return record;
    });
  }

  write(record: SecretRecord, create: boolean): Promise<void> {
    return this.guarded(`write secret ${record.id}`, () => this.caching(record, () => (create ? this.writeNew(record) : writeDurably(path.join(this.secretDir(record.id), META), this.metaText(record), FILE_MODE, this.fs))));
  }

  private async writeNew(record: SecretRecord): Promise<void> {
    // A new secret is assembled in a hidden directory and renamed into place, so a crash
    // never leaves a secret directory without its meta.json. Nothing reads the staging
    // directory: meta.json is written there in place, it and the directory's entries fsynced at
    // once, before the rename.
    await ensureDir(this.root, DIR_MODE, this.fs);
    const staging = path.join(this.root, `.${record.id}.new-${tempSuffix()}`);
    try {
      await this.fs.mkdir(path.join(staging, VERSIONS), { recursive: true, mode: DIR_MODE });
      await writeUnnamed({ file: path.join(staging, META), data: this.metaText(record), mode: FILE_MODE }, this.fs);
      await this.renameIntoPlace(staging, record.id);
    } catch (err) {
      await this.fs.rm(staging, { recursive: true, force: true });
      throw err;
    }
    await syncDir(this.root, this.fs);
  }

  private async renameIntoPlace(staging: string, id: string): Promise<void> {
    try {
      await this.fs.rename(staging, this.secretDir(id));
    } catch (err) {
      if (errno(err) !== 'ENOTEMPTY' && errno(err) !== 'EEXIST') throw err;
      // Another writer's secret, or a directory without meta.json (left by hand): not a secret.
      if (await this.read(id)) throw new MeshlinkError('already-exists', `secret ${id} already exists`, { cause: err });
      await this.fs.rm(this.secretDir(id), { recursive: true, force: true });
      await this.fs.rename(staging, this.secretDir(id));
    }
  }

  remove(id: string): Promise<void> {
    return this.guarded(`delete secret ${id}`, async () => {
      // Renamed away first (atomic), then deleted: a crash leaves hidden debris, not half a secret.
      records.delete(this.cacheKey(id));
      const doomed = path.join(this.root, `.${id}.deleted-${tempSuffix()}`);
      await this.fs.rename(this.secretDir(id), doomed);
      await syncDir(this.root, this.fs);
      await this.fs.rm(doomed, { recursive: true, force: true });
    });
  }

  readAll(): Promise<SecretRecord[]> {
    return this.guarded(`list ${this.root}`, async () => {
      const ids = (await namesIn(this.root)).filter((name) => !isHidden(name));
      const records = await inBatches(ids, (id) => this.read(id));
      return records.filter((record): record is SecretRecord => record !== undefined);
    });
  }

  writeVersion(record: SecretRecord, version: number, payload: Uint8Array): Promise<void> {
    const { id } = record;
    return this.guarded(`write version ${version} of secret ${id}`, () => this.caching(record, async () => {
      await ensureDir(path.join(this.secretDir(id), VERSIONS), DIR_MODE, this.fs);
      // The payload goes straight to versions/<n>, which no record names yet (a killed write leaves
      // an unreferenced file, which the next version of that number overwrites). Its content and
      // directory entry, and the record's temp file, are fsynced at once: one wait on the disk.
      // Only then is the record renamed into place: a power loss never leaves a version without
      // its payload.
      const [payloadWrite, metaStage] = await Promise.allSettled([
        writeUnnamed({ file: this.payloadFile(id, version), data: payload, mode: FILE_MODE }, this.fs),
        stageFile({ file: path.join(this.secretDir(id), META), data: this.metaText(record), mode: FILE_MODE }, this.fs),
      ]);
      if (metaStage.status === 'rejected') throw metaStage.reason;
      if (payloadWrite.status === 'rejected') {
        await discardStaged([metaStage.value], this.fs);
        throw payloadWrite.reason;
      }
      await commitFile(metaStage.value, this.fs);
      await syncDir(this.secretDir(id), this.fs);
    }));
  }

  readPayload(id: string, version: number): Promise<Uint8Array | undefined> {
    return this.guarded(`read version ${version} of secret ${id}`, async () => {
      try {
        return new Uint8Array(await readFile(this.payloadFile(id, version)));
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    });
  }

  erasePayload(id: string, version: number): Promise<void> {
    return this.guarded(`destroy version ${version} of secret ${id}`, async () => {
      try {
        await this.fs.unlink(this.payloadFile(id, version));
      } catch (err) {
        if (isMissing(err)) return;
        throw err;
      }
      await syncDir(path.join(this.secretDir(id), VERSIONS), this.fs);
    });
  }
}

export class LocalFileStore extends RecordStore {
  /** `fs`: the file system calls that change something (tests inject them to see their order). */
  constructor(dir: string, options: { clock?: Clock; fs?: DurableFs } = {}) {
    super(new FileBackend(path.resolve(dir), options.fs ?? nodeFs), options.clock ? { clock: options.clock } : {});
  }
}
