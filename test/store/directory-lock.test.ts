// One process per local store directory: a second process's store refuses the directory while the
// first runs, and takes it over once the first is gone, killed or not.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCK } from '../../shared/store/directory-lock.js';
import { JOURNAL } from '../../shared/store/journal-file.js';
import { LocalFileStore } from '../../shared/store/local-file-store.js';

const HOLDER = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'support', 'hold-store.ts');
const dirs: string[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshlink-lock-'));
  dirs.push(dir);
  return dir;
}

/** Another process with the store of `dir` open, once it said so. */
async function holder(dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
  return child;
}

const exited = (child: ChildProcess) => new Promise((resolve) => child.once('exit', resolve));

describe('a local store directory, one process at a time', () => {
  it('refuses the directory while another process has it open, naming that process, and writes nothing', async () => {
    const dir = await freshDir();
    const other = await holder(dir);
    const journal = () => readFileSync(path.join(dir, JOURNAL));
    const before = journal();
    const store = new LocalFileStore(dir);
    const refused = store.createSecret('a', { labels: {}, annotations: {} });
    await expect(refused).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining(`in use by process ${other.pid}`) });
    expect(readFileSync(path.join(dir, LOCK), 'utf8').trim()).toBe(String(other.pid));
    expect(journal().equals(before)).toBe(true);
  });

  it('takes over the lock of a process killed without a chance to release it', async () => {
    const dir = await freshDir();
    const other = await holder(dir);
    const gone = exited(other);
    other.kill('SIGKILL');
    await gone;
    expect(existsSync(path.join(dir, LOCK))).toBe(true); // left behind
    const store = new LocalFileStore(dir);
    await store.createSecret('a', { labels: {}, annotations: {} });
    expect(readFileSync(path.join(dir, LOCK), 'utf8').trim()).toBe(String(process.pid));
  });

  it('is released when the holder exits', async () => {
    const dir = await freshDir();
    const other = await holder(dir);
    const gone = exited(other);
    other.stdin!.end();
    await gone;
    expect(existsSync(path.join(dir, LOCK))).toBe(false);
  });

  it('takes over a lock naming this process (a restarted container has its predecessor\'s pid) or no running process', async () => {
    for (const stale of [process.pid, 2 ** 22 + 17, 'garbage']) {
      const dir = await freshDir();
      writeFileSync(path.join(dir, LOCK), `${stale}\n`);
      const store = new LocalFileStore(dir);
      await store.createSecret('a', { labels: {}, annotations: {} });
      expect((await store.getSecret('a')).id).toBe('a');
    }
  });
});

describe('a closed local store', () => {
  it('gives its directory back: another process takes it', async () => {
    const dir = await freshDir();
    const store = new LocalFileStore(dir);
    await store.createSecret('a', { labels: {}, annotations: {} });
    expect(existsSync(path.join(dir, LOCK))).toBe(true);
    await store.close();
    expect(existsSync(path.join(dir, LOCK))).toBe(false);
    const other = await holder(dir);
    expect(readFileSync(path.join(dir, LOCK), 'utf8').trim()).toBe(String(other.pid));
  });
});
