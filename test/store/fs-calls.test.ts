// The local adapters' file system calls make few promises: functions-framework runs each HTTP
// request in a domain, whose async hooks cost something on every promise made, and fs/promises
// made about 30 for one read (shared/fs-calls.ts).
import { createHook } from 'node:async_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAllDurably } from '../../shared/durable-file.js';
import { LocalFileStore } from '../../shared/store/local-file-store.js';

/** Promises made while `work` runs (after one run to warm up). */
async function promisesMade(work: () => Promise<unknown>): Promise<number> {
  await work();
  let made = 0;
  const hook = createHook({ init: (_id, type) => void (type === 'PROMISE' && made++) }).enable();
  try {
    await work();
  } finally {
    hook.disable();
  }
  return made;
}

describe('local file system calls', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'meshlink-fs-calls-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('read a secret\'s record with at most 15 promises (fs/promises: 40)', async () => {
    const store = new LocalFileStore(path.join(dir, 'store'));
    await store.createSecret('s', { labels: {}, annotations: {} });
    expect(await promisesMade(() => store.getSecret('s'))).toBeLessThanOrEqual(15);
  });

  it('write a file durably with at most 32 promises (fs/promises: 68)', async () => {
    let n = 0;
    expect(await promisesMade(() => writeAllDurably([{ file: path.join(dir, `f${n++}`), data: 'text', mode: 0o600 }]))).toBeLessThanOrEqual(32);
  });
});
