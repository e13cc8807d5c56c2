// File writes that neither a killed process nor a power loss can tear or lose, for the local
// adapters (the file store, the cluster directories). A write goes to a temp file beside its
// target, is fsynced, renamed over the target, and the directory is fsynced: only then is the
// rename itself on disk. Temp names carry a tag of this process, so what killed processes left can
// be removed without touching this process's writes in flight.
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import path from 'node:path';

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
  open: (file, flags, mode) => fsp.open(file, flags, mode),
  rename: (from, to) => fsp.rename(from, to),
  rm: (target, options) => fsp.rm(target, options),
  unlink: (file) => fsp.unlink(file),
  mkdir: (dir, options) => fsp.mkdir(dir, options),
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

/**
 * Writes `file` atomically and durably: temp file in the same directory, fsync, rename, fsync of
 * the directory. Readers see the old content or the new, never a torn file; a kill leaves at most
 * a temp file (`<file>.tmp-<suffix>`), which nothing reads.
 */
export async function writeDurably(file: string, data: Uint8Array | string, mode: number, fs: DurableFs = nodeFs): Promise<void> {
  const temp = `${file}.tmp-${tempSuffix()}`;
  const handle = await fs.open(temp, 'wx', mode);
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  await syncDir(path.dirname(file), fs);
}
