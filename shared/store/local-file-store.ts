// The embedded default SecretStore: one directory per secret, metadata in meta.json and each
// version's payload in versions/<n>; files 0600, directories 0700, every write atomic.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { MeshlinkError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { SecretRecord, VersionRecord } from './model.js';
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

function tempSuffix(): string {
  return randomBytes(6).toString('hex');
}

/** Makes a rename or unlink inside `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes to a temp file in the same directory, fsyncs, then renames over the target: readers see
 * the old content or the new, never a torn file. An interrupted write leaves only a stray
 * `*.tmp-*` file, which nothing reads.
 */
async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const temp = `${file}.tmp-${tempSuffix()}`;
  const handle = await open(temp, 'wx', FILE_MODE);
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await syncDir(path.dirname(file));
}

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

  constructor(private readonly root: string) {
    this.lockScope = `file:${root}`;
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

  read(id: string): Promise<SecretRecord | undefined> {
    return guard(`read secret ${id}`, async () => {
      const file = path.join(this.secretDir(id), META);
      try {
        return parseMeta(await readFile(file, 'utf8'), file);
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    });
  }

  write(record: SecretRecord, create: boolean): Promise<void> {
    return guard(`write secret ${record.id}`, async () => {
      if (!create) return writeAtomic(path.join(this.secretDir(record.id), META), this.metaText(record));
      // A new secret is assembled in a hidden directory and renamed into place, so a crash
      // never leaves a secret directory without its meta.json.
      await mkdir(this.root, { recursive: true, mode: DIR_MODE });
      const staging = path.join(this.root, `.${record.id}.new-${tempSuffix()}`);
      try {
        await mkdir(path.join(staging, VERSIONS), { recursive: true, mode: DIR_MODE });
        await writeAtomic(path.join(staging, META), this.metaText(record));
        await this.renameIntoPlace(staging, record.id);
      } catch (err) {
        await rm(staging, { recursive: true, force: true });
        throw err;
      }
      await syncDir(this.root);
    });
  }

  private async renameIntoPlace(staging: string, id: string): Promise<void> {
    try {
      await rename(staging, this.secretDir(id));
    } catch (err) {
      if (errno(err) !== 'ENOTEMPTY' && errno(err) !== 'EEXIST') throw err;
      // Another writer's secret, or a directory without meta.json (left by hand): not a secret.
      if (await this.read(id)) throw new MeshlinkError('already-exists', `secret ${id} already exists`, { cause: err });
      await rm(this.secretDir(id), { recursive: true, force: true });
      await rename(staging, this.secretDir(id));
    }
  }

  remove(id: string): Promise<void> {
    return guard(`delete secret ${id}`, async () => {
      // Renamed away first (atomic), then deleted: a crash leaves hidden debris, not half a secret.
      const doomed = path.join(this.root, `.${id}.deleted-${tempSuffix()}`);
      await rename(this.secretDir(id), doomed);
      await syncDir(this.root);
      await rm(doomed, { recursive: true, force: true });
    });
  }

  readAll(): Promise<SecretRecord[]> {
    return guard(`list ${this.root}`, async () => {
      let entries: string[];
      try {
        entries = await readdir(this.root);
      } catch (err) {
        if (isMissing(err)) return [];
        throw err;
      }
      // Hidden entries are staging or deleted directories.
      const ids = entries.filter((name) => !name.startsWith('.'));
      const records: SecretRecord[] = [];
      for (let i = 0; i < ids.length; i += READ_CONCURRENCY) {
        const batch = await Promise.all(ids.slice(i, i + READ_CONCURRENCY).map((id) => this.read(id)));
        for (const record of batch) if (record) records.push(record);
      }
      return records;
    });
  }

  writePayload(id: string, version: number, payload: Uint8Array): Promise<void> {
    return guard(`write version ${version} of secret ${id}`, async () => {
      await mkdir(path.join(this.secretDir(id), VERSIONS), { recursive: true, mode: DIR_MODE });
      await writeAtomic(this.payloadFile(id, version), payload);
    });
  }

  readPayload(id: string, version: number): Promise<Uint8Array | undefined> {
    return guard(`read version ${version} of secret ${id}`, async () => {
      try {
        return new Uint8Array(await readFile(this.payloadFile(id, version)));
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    });
  }

  erasePayload(id: string, version: number): Promise<void> {
    return guard(`destroy version ${version} of secret ${id}`, async () => {
      try {
        await unlink(this.payloadFile(id, version));
      } catch (err) {
        if (isMissing(err)) return;
        throw err;
      }
      await syncDir(path.join(this.secretDir(id), VERSIONS));
    });
  }
}

export class LocalFileStore extends RecordStore {
  constructor(dir: string, options: { clock?: Clock } = {}) {
    super(new FileBackend(path.resolve(dir)), options);
  }
}
