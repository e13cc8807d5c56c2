// The file system calls of the local adapters (file store, cluster directories), each one callback
// call of node:fs under one promise. fs/promises makes about 30 promises for a readFile and 35 for
// an open, write, fsync and close, and functions-framework runs every HTTP request in a domain,
// which hooks each promise made: those hooks were most of what HTTP added to a create.
import fs, { type Dirent } from 'node:fs';

type Callback<T> = (err: NodeJS.ErrnoException | null, value?: T) => void;

/** One promise over one callback call. */
function call<T>(run: (done: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value as T))));
}

export const readFile = (file: string): Promise<Buffer> => call((done) => fs.readFile(file, done));
export const readText = (file: string): Promise<string> => call((done) => fs.readFile(file, 'utf8', done));
export const readdir = (dir: string): Promise<string[]> => call((done) => fs.readdir(dir, done));
/** Every entry below `dir`, with its type. */
export const readdirDeep = (dir: string): Promise<Dirent[]> => call((done) => fs.readdir(dir, { recursive: true, withFileTypes: true }, done));

/** An open file descriptor's writes, fsync and close. */
export interface FdFile {
  writeFile(data: Uint8Array | string): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export async function open(file: string, flags: string, mode?: number): Promise<FdFile> {
  const fd = await call<number>((done) => fs.open(file, flags, mode, done));
  return {
    writeFile: (data) => call((done) => fs.writeFile(fd, data, done)),
    sync: () => call((done) => fs.fsync(fd, done)),
    close: () => call((done) => fs.close(fd, done)),
  };
}

export const rename = (from: string, to: string): Promise<void> => call((done) => fs.rename(from, to, done));
export const rm = (target: string, options: { recursive?: boolean; force?: boolean }): Promise<void> => call((done) => fs.rm(target, options, done));
export const unlink = (file: string): Promise<void> => call((done) => fs.unlink(file, done));
/** The first directory created, as fs.mkdir reports it (undefined: it existed). */
export const mkdir = (dir: string, options: { recursive: true; mode: number }): Promise<string | undefined> => call((done) => fs.mkdir(dir, options, done));
