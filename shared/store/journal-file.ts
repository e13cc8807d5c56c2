// The local store's journal: one append-only file of checksummed frames (journal-frames.ts), an
// index of where each record and payload is (journal-index.ts), group commit (the appends made
// while an fdatasync is in flight share the next one), in-place erasure of destroyed payloads,
// compaction, and the import of the former directory layout (legacy-layout.ts) on open.
import fs from 'node:fs';
import path from 'node:path';
import { MeshlinkError } from '../errors.js';
import { fdatasync } from '../fs-calls.js';
import { leftByOtherProcess, tempSuffix } from '../durable-file.js';
import { lockDirectory, LOCK } from './directory-lock.js';
import { setBounded } from '../bounded-map.js';
import { encodeFrame, FRAME_PREFIX, type Frame, type FrameHeader, type Span } from './journal-frames.js';
import { replay, type JournalIndex } from './journal-index.js';
import { legacyEntries, readLegacySecret } from './legacy-layout.js';
import { cloneRecord, type SecretRecord } from './model.js';

export const JOURNAL = 'store.journal';
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
/** Below this size the file is never compacted. */
const COMPACT_MIN_BYTES = 1024 * 1024;
/**
 * Records kept parsed: the store is the only process on its directory (README), so the index is
 * the truth and a record need not be read and parsed again on every call. Bounded (a sweep of
 * more secrets reads the others' headers from the file); entries are copies.
 */
const RECORDS_KEPT = 4_096;

/** The descriptor-level calls of the journal: injected, so tests can fail one at a chosen point. */
export interface JournalFs {
  /** Opens read-write, creating it (mode 0600) if `create`. */
  open(file: string, create: boolean): number;
  size(fd: number): number;
  read(fd: number, into: Uint8Array, position: number): number;
  write(fd: number, data: Uint8Array, position: number): number;
  truncate(fd: number, length: number): void;
  /** Through the thread pool: the one wait on the disk per group of writes. */
  datasync(fd: number): Promise<void>;
  /** Synchronous, for compaction and migration (no append may land meanwhile). */
  sync(fd: number): void;
  close(fd: number): void;
}

export const nodeJournalFs: JournalFs = {
  // Read-write, never O_APPEND: positional writes (erasure) must land where they are aimed.
  open: (file, create) => fs.openSync(file, create ? fs.constants.O_RDWR | fs.constants.O_CREAT : fs.constants.O_RDWR, FILE_MODE),
  size: (fd) => fs.fstatSync(fd).size,
  read: (fd, into, position) => fs.readSync(fd, into, 0, into.length, position),
  write: (fd, data, position) => fs.writeSync(fd, data, 0, data.length, position),
  truncate: (fd, length) => fs.ftruncateSync(fd, length),
  datasync: fdatasync,
  sync: (fd) => fs.fsyncSync(fd),
  close: (fd) => fs.closeSync(fd),
};

function syncDirNow(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function readSpan(fsc: JournalFs, fd: number, span: Span): Buffer {
  const into = Buffer.alloc(span.length);
  let done = 0;
  while (done < span.length) {
    const n = fsc.read(fd, into.subarray(done), span.offset + done);
    if (n === 0) throw Object.assign(new Error('journal shorter than its index'), { code: 'EIO' });
    done += n;
  }
  return into;
}

function writeAll(fsc: JournalFs, fd: number, data: Uint8Array, position: number): void {
  for (let done = 0; done < data.length; ) done += fsc.write(fd, data.subarray(done), position + done);
}

/**
 * Writes `frames` as a new journal beside the current one (`store.journal.compact-<suffix>`),
 * fsyncs it and renames it over `store.journal`; returns its descriptor. The caller fsyncs the
 * directory. A failure before the rename leaves the current journal as it was.
 */
function writeWholeJournal(root: string, fsc: JournalFs, frames: readonly Buffer[]): number {
  const temp = path.join(root, `${JOURNAL}.compact-${tempSuffix()}`);
  const fd = fsc.open(temp, true);
  try {
    writeAll(fsc, fd, Buffer.concat(frames), 0);
    fsc.sync(fd);
    fs.renameSync(temp, path.join(root, JOURNAL));
  } catch (err) {
    fsc.close(fd);
    fs.rmSync(temp, { force: true });
    throw err;
  }
  return fd;
}

/** The former layout's secrets as journal frames: each record, then its payloads. */
function importLegacy(root: string, ids: readonly string[]): Buffer[] {
  const frames: Buffer[] = [];
  for (const id of ids) {
    const secret = readLegacySecret(root, id);
    if (!secret) continue;
    frames.push(encodeFrame({ op: 'put', record: secret.record }));
    for (const p of secret.payloads) frames.push(encodeFrame({ op: 'payload', id, version: p.version }, p.bytes));
  }
  return frames;
}

/**
 * Before the journal opens: takes the directory for this process (directory-lock.ts), removes
 * killed compactions' temp files (compaction is synchronous
 * and the journal of a directory is opened once per process, so none is in flight), and imports
 * the former layout: its secrets written as a whole new journal, and only once that is renamed
 * into place and durable are the old directories and debris removed (a crash in between leaves
 * them beside the journal, which already holds them: they are removed on the next open).
 */
async function prepareRoot(root: string, fsc: JournalFs): Promise<void> {
  const created = fs.mkdirSync(root, { recursive: true, mode: DIR_MODE });
  if (created !== undefined) syncDirNow(path.dirname(created));
  lockDirectory(root);
  for (const name of fs.readdirSync(root)) {
    if (name.startsWith(`${JOURNAL}.compact-`) || (name.startsWith(`${LOCK}.`) && leftByOtherProcess(name, 'tmp'))) fs.rmSync(path.join(root, name), { force: true });
  }
  const { secrets, debris } = legacyEntries(root);
  if (secrets.length === 0 && debris.length === 0) return;
  if (!fs.existsSync(path.join(root, JOURNAL)) && secrets.length > 0) {
    fsc.close(writeWholeJournal(root, fsc, importLegacy(root, secrets)));
    syncDirNow(root);
  }
  await Promise.all([...secrets, ...debris].map((name) => fs.promises.rm(path.join(root, name), { recursive: true, force: true })));
}

/** Spans to zero once the frame that dropped them is durable; void if the file was compacted meanwhile. */
export interface Erasure {
  generation: number;
  spans: Span[];
}

export class Journal {
  private failure: MeshlinkError | undefined;
  private inFlight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  /** Counts compactions: spans of an older generation point into a file that is gone. */
  private generation = 0;
  private readonly records = new Map<string, SecretRecord>();

  private constructor(
    private readonly root: string,
    private readonly fsc: JournalFs,
    private fd: number,
    private size: number,
    private index: JournalIndex,
  ) {}

  /** Opens the journal of `root`: imports the former layout, replays, cuts what was never acknowledged, erases what a crash left. */
  static async open(root: string, fsc: JournalFs): Promise<Journal> {
    await prepareRoot(root, fsc);
    const fd = fsc.open(path.join(root, JOURNAL), true);
    try {
      const bytes = readSpan(fsc, fd, { offset: 0, length: fsc.size(fd) });
      const replayed = replay(bytes);
      const journal = new Journal(root, fsc, fd, replayed.end, replayed.index);
      for (const record of replayed.records.values()) setBounded(journal.records, RECORDS_KEPT, record.id, record);
      if (replayed.end < bytes.length) fsc.truncate(fd, replayed.end);
      journal.zero(replayed.unerased);
      if (replayed.end < bytes.length || replayed.unerased.length > 0) await fsc.datasync(fd);
      journal.compactIfDue();
      return journal;
    } catch (err) {
      fsc.close(fd);
      throw err;
    }
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }

  /**
   * Past an fdatasync that failed, or a torn append that could not be cut off, what the file holds
   * is unknown (after a failed fsync the page cache may have dropped the dirty pages): every call
   * refuses until the journal is opened and replayed again.
   */
  private fail(err: unknown): MeshlinkError {
    if (!this.failure) {
      this.failure = new MeshlinkError('unavailable', `the store journal failed and must be read again: ${(err as NodeJS.ErrnoException).code ?? 'I/O error'}`, { cause: err });
      this.close().catch(() => undefined);
    }
    return this.failure;
  }

  /** Closes the file once no fdatasync is in flight on it (its descriptor number must not be reused meanwhile). */
  async close(): Promise<void> {
    this.failure ??= new MeshlinkError('unavailable', 'the store journal is closed');
    const fd = this.fd;
    await Promise.allSettled([this.inFlight, this.queued]);
    if (this.fd === fd && fd >= 0) {
      this.fd = -1;
      this.fsc.close(fd);
    }
  }

  has(id: string): boolean {
    return this.index.entries.has(id);
  }

  /** A copy of the current record of `id`. */
  record(id: string): SecretRecord | undefined {
    this.check();
    const kept = this.records.get(id);
    if (kept) return cloneRecord(kept);
    const entry = this.index.entries.get(id);
    if (!entry) return undefined;
    const header = JSON.parse(readSpan(this.fsc, this.fd, entry.record).toString('utf8')) as Extract<FrameHeader, { record: SecretRecord }>;
    setBounded(this.records, RECORDS_KEPT, id, cloneRecord(header.record));
    return header.record;
  }

  /** Every record, from the index: no file is opened. */
  allRecords(): SecretRecord[] {
    return [...this.index.entries.keys()].map((id) => this.record(id)!);
  }

  payload(id: string, version: number): Uint8Array | undefined {
    this.check();
    const span = this.index.entries.get(id)?.payloads.get(version);
    return span && new Uint8Array(readSpan(this.fsc, this.fd, span));
  }

  /**
   * Appends one frame at the end the journal tracks (synchronously, so frames never interleave)
   * and applies it to the index; the caller then awaits `durable()`. A write that fails part way
   * is cut off again, leaving the file as it was.
   */
  append(header: FrameHeader, payload?: Uint8Array): Erasure {
    this.check();
    this.compactIfDue();
    const bytes = encodeFrame(header, payload);
    const start = this.size;
    try {
      writeAll(this.fsc, this.fd, bytes, start);
    } catch (err) {
      try {
        this.fsc.truncate(this.fd, start);
      } catch (cutErr) {
        this.fail(cutErr);
      }
      throw err;
    }
    this.size = start + bytes.length;
    const headerLength = bytes.readUInt32LE(0);
    const frame: Frame = {
      start,
      end: this.size,
      header,
      headerSpan: { offset: start + FRAME_PREFIX, length: headerLength },
      payload: { offset: start + FRAME_PREFIX + headerLength, length: bytes.length - FRAME_PREFIX - headerLength },
    };
    if (header.op === 'delete') this.records.delete(header.id);
    else if (header.op !== 'payload') setBounded(this.records, RECORDS_KEPT, header.record.id, cloneRecord(header.record));
    return { generation: this.generation, spans: this.index.apply(frame) };
  }

  /**
   * Resolves once every byte appended before the call is on disk. One fdatasync is in flight at a
   * time; callers that come while one is share the next (group commit): it starts when the one in
   * flight settles, and covers everything appended until then.
   */
  durable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.queued) return this.queued;
    if (!this.inFlight) return this.sync();
    const queued = this.inFlight
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.sync();
      });
    this.queued = queued;
    return queued;
  }

  private sync(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const synced = this.fsc.datasync(this.fd).catch((err: unknown) => {
      throw this.fail(err);
    });
    const tracked = synced.finally(() => {
      if (this.inFlight === tracked) this.inFlight = undefined;
    });
    this.inFlight = tracked;
    return tracked;
  }

  /** Zeroes a destroyed version's payload in place, durably; nothing to do if it is already. */
  async erasePayload(id: string, version: number): Promise<void> {
    this.check();
    const entry = this.index.entries.get(id);
    const span = entry?.doomed.get(version);
    if (!span) return;
    await this.erase({ generation: this.generation, spans: [span] });
    entry!.doomed.delete(version);
  }

  /**
   * Zeroes spans in place and waits until that is durable. The frame that dropped them must be
   * durable first: replay accepts a zeroed payload only with the frame that destroys it after it.
   */
  async erase({ generation, spans }: Erasure): Promise<void> {
    if (generation !== this.generation || spans.length === 0) return; // compacted away
    this.check();
    this.zero(spans);
    await this.durable();
  }

  private zero(spans: readonly Span[]): void {
    try {
      for (const span of spans) writeAll(this.fsc, this.fd, new Uint8Array(span.length), span.offset);
    } catch (err) {
      throw this.fail(err); // a reopen finds the payload intact and zeroes it then
    }
  }

  private compactIfDue(): void {
    const garbage = this.size - this.index.liveBytes;
    if (this.size > COMPACT_MIN_BYTES && garbage > this.index.liveBytes) this.compact();
  }

  /**
   * Writes the live records and payloads as a new file and switches to it, synchronously so that
   * no append lands in the old file meanwhile. Rare (the file has doubled its live bytes since
   * the last one), so its cost per write is constant on average.
   */
  private compact(): void {
    const frames: Buffer[] = [];
    for (const [id, entry] of this.index.entries) {
      frames.push(encodeFrame({ op: 'put', record: this.record(id)! }));
      for (const [version, span] of entry.payloads) frames.push(encodeFrame({ op: 'payload', id, version }, readSpan(this.fsc, this.fd, span)));
    }
    const bytes = Buffer.concat(frames);
    const fd = writeWholeJournal(this.root, this.fsc, [bytes]);
    const old = this.fd;
    const inFlight = this.inFlight;
    this.fd = fd;
    this.size = bytes.length;
    this.index = replay(bytes).index;
    this.generation++;
    if (inFlight) void inFlight.catch(() => undefined).then(() => this.fsc.close(old));
    else this.fsc.close(old);
    try {
      syncDirNow(this.root);
    } catch (err) {
      throw this.fail(err); // the rename may not be durable: read the directory again
    }
  }
}
