// File writes that neither a killed process nor a power loss can tear or lose, for the local
// cluster directories (the local store appends to its journal instead, store/journal-file.ts, and
// shares only the temp names below). A write goes to a temp file beside its
// target, is fsynced, renamed over the target, and the directory is fsynced: only then is the
// rename itself on disk. Temp names carry a tag of this process, so what killed processes left can
// be removed without touching this process's writes in flight.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import * as calls from './fs-calls.js';

export interface WritableFile {
  writeFile(data: Uint8Array | string): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** The file system calls that change something: injected, so tests can see their order. */
export interface DurableFs {
  open(file: string, flags: string, mode?: number): Promise<WritableFile>;
  rename(from: string, to: string): Promise<void>;
  rm(target: string, options: { recursive?: boolean; force?: boolean }): Promise<void>;
  unlink(file: string): Promise<void>;
  mkdir(dir: string, options: { recursive: true; mode: number }): Promise<string | undefined>;
}

export const nodeFs: DurableFs = {
  open: calls.open,
  rename: calls.rename,
  rm: calls.rm,
  unlink: calls.unlink,
  mkdir: calls.mkdir,
};

/** Random per process: a restarted process has another. */
const PROCESS_TAG = randomBytes(4).toString('hex');

/** A unique suffix for temp and staging names, tagged with this process. */
export function tempSuffix(): string {
  return `${PROCESS_TAG}-${randomBytes(6).toString('hex')}`;
}

/**
 * Is `name` a temp or staging name (`<base>.<marker>-<suffix>`) that another process left: one
 * killed mid-write (an untagged suffix is from before the tag)? This process's own are in flight.
 */
export function leftByOtherProcess(name: string, marker: string): boolean {
  const suffix = name.match(new RegExp(`\\.${marker}-([0-9a-f]+)(?:-[0-9a-f]+)?$`));
  return !!suffix && suffix[1] !== PROCESS_TAG;
}

/** Makes the entries of `dir` (a rename, a new file, an unlink) durable. */
export async function syncDir(dir: string, fs: DurableFs = nodeFs): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `dir` and its missing parents; the first one created is made durable in its parent. */
export async function ensureDir(dir: string, mode: number, fs: DurableFs = nodeFs): Promise<void> {
  const first = await fs.mkdir(dir, { recursive: true, mode });
  if (first !== undefined) await syncDir(path.dirname(first), fs);
}

/** One file to write: its path, content and mode. */
export interface FileWrite {
  file: string;
  data: Uint8Array | string;
  mode: number;
}

/** A file written and fsynced under a temp name beside its target: nothing reads it before `commitFile`. */
export interface StagedFile {
  readonly file: string;
  readonly temp: string;
}

/** Writes a temp file beside `file` (`<file>.tmp-<suffix>`) and fsyncs it; removed again if that fails. */
export async function stageFile({ file, data, mode }: FileWrite, fs: DurableFs = nodeFs): Promise<StagedFile> {
  const temp = `${file}.tmp-${tempSuffix()}`;
  const handle = await fs.open(temp, 'wx', mode);
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  return { file, temp };
}

/**
 * Stages every file at once, so their fsyncs overlap (one wait on the disk, not one per file); if
 * one fails, the others' temp files are removed.
 */
async function stageFiles(files: readonly FileWrite[], fs: DurableFs = nodeFs): Promise<StagedFile[]> {
  const settled = await Promise.allSettled(files.map((f) => stageFile(f, fs)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (!failed) return settled.map((s) => (s as PromiseFulfilledResult<StagedFile>).value);
  await discardStaged(settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])), fs);
  throw failed.reason;
}

/** Removes staged files that will not be committed. */
export async function discardStaged(staged: readonly StagedFile[], fs: DurableFs = nodeFs): Promise<void> {
  await Promise.all(staged.map((s) => fs.rm(s.temp, { force: true })));
}

/** Renames a staged file over its target: atomic at once, durable once its directory is synced. */
export async function commitFile(staged: StagedFile, fs: DurableFs = nodeFs): Promise<void> {
  try {
    await fs.rename(staged.temp, staged.file);
  } catch (err) {
    await fs.rm(staged.temp, { force: true });
    throw err;
  }
}

/**
 * Writes independent files, each atomically and durably: a temp file in the same directory,
 * fsync, rename, fsync of the directory, so readers see the old content or the new, never a torn
 * file, and a kill leaves at most a temp file (`<file>.tmp-<suffix>`), which nothing reads. One
 * wait per step instead of one per file: all staged at once, renamed, then each directory fsynced
 * once, after all of its renames. None is durable before all are, so no file may depend on another
 * of the same call. Should a rename fail, the files renamed before it are in place (each whole)
 * and the others' temp files are removed.
 */
export async function writeAllDurably(files: readonly FileWrite[], fs: DurableFs = nodeFs): Promise<void> {
  const staged = await stageFiles(files, fs);
  for (const [i, file] of staged.entries()) {
    try {
      await commitFile(file, fs);
    } catch (err) {
      await discardStaged(staged.slice(i + 1), fs);
      throw err;
    }
  }
  await Promise.all([...new Set(files.map((f) => path.dirname(f.file)))].map((dir) => syncDir(dir, fs)));
}
