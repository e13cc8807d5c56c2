// The file system calls of the local adapters (file store, cluster directories). Calls that touch
// only the page cache (reading a small file, open, write, close, rename, mkdir, unlink) run
// synchronously: a trip through libuv's thread pool (a thread woken, a callback queued) cost 5 to
// 10 times the call itself on a busy 2-core machine (about 480 µs against 75 µs for a read). What
// waits for the disk (fsync) or may take long (listing or removing a tree) goes to the pool, as
// one callback call under one promise: fs/promises made about 30 promises for a read.
import fs, { type Dirent } from 'node:fs';

type Callback<T> = (err: NodeJS.ErrnoException | null, value?: T) => void;

/** One promise over one callback call (the thread pool). */
function pooled<T>(run: (done: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value as T))));
}

/** A synchronous call as a promise: its error a rejection, as callers of the port expect. */
function inline<T>(run: () => T): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (err) {
    return Promise.reject(err);
  }
}

export const readText = (file: string): Promise<string> => inline(() => fs.readFileSync(file, 'utf8'));
/** Every entry below `dir`, with its type. */
export const readdirDeep = (dir: string): Promise<Dirent[]> => pooled((done) => fs.readdir(dir, { recursive: true, withFileTypes: true }, done));

/** An open file descriptor's writes, fsync and close. */
export interface FdFile {
  writeFile(data: Uint8Array | string): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export function open(file: string, flags: string, mode?: number): Promise<FdFile> {
  return inline(() => {
    const fd = fs.openSync(file, flags, mode);
    return {
      writeFile: (data) => inline(() => fs.writeFileSync(fd, data)),
      sync: () => pooled((done) => fs.fsync(fd, done)),
      close: () => inline(() => fs.closeSync(fd)),
    };
  });
}

/** Waits for a file's data (and the size that reaches it) to be on disk. */
export const fdatasync = (fd: number): Promise<void> => pooled((done) => fs.fdatasync(fd, done));

export const rename = (from: string, to: string): Promise<void> => inline(() => fs.renameSync(from, to));
export const rm = (target: string, options: { recursive?: boolean; force?: boolean }): Promise<void> => pooled((done) => fs.rm(target, options, done));
export const unlink = (file: string): Promise<void> => inline(() => fs.unlinkSync(file));
/** The first directory created, as fs.mkdir reports it (undefined: it existed). */
export const mkdir = (dir: string, options: { recursive: true; mode: number }): Promise<string | undefined> => inline(() => fs.mkdirSync(dir, options));
