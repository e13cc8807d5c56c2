// Bad input against the servers as they run, each in its own process on a fresh state directory:
// `npm start` (functions/local.ts) and functions-framework's own CLI, the production entry point,
// serving a CloudEvent function from source. The byte counts are in body-limit.test.ts (in process,
// where the server's sockets can be read); here: the same answers from the real entry points, and
// a client that could not push the whole 10 MB through before the 413 came.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_NAMES } from '../../functions/names.js';
import { streamRequest } from '../support/http.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FF_MAIN = path.join(path.dirname(createRequire(import.meta.url).resolve('@google-cloud/functions-framework')), 'main.js');
const TEN_MB = 10 * 1024 * 1024;
const JSON_TYPE = { 'content-type': 'application/json' };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

interface Running {
  server: { port: number };
  stop(): Promise<void>;
}

/** Starts `args` under node with tsx; resolves once its stdout says `ready`. */
async function start(args: (port: number) => string[], ready: RegExp): Promise<Running> {
  const port = await freePort();
  const stateDir = await mkdtemp(path.join(tmpdir(), 'meshlink-edges-'));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', ...args(port)], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), MESHLINK_STATE_DIR: stateDir, MESHLINK_SWEEP_INTERVAL: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (ready.test(output)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
  });
  return {
    server: { port },
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

describe.each([
  ['npm start (functions/local.ts)', () => ['functions/local.ts'], /meshlink listening/, '/links'],
  [
    `the functions-framework CLI serving ${FUNCTION_NAMES.clusterRegistration}`,
    (port: number) => [FF_MAIN, `--target=${FUNCTION_NAMES.clusterRegistration}`, '--source=functions/index.ts', `--port=${port}`],
    /Serving function/,
    '/',
  ],
] as const)('%s', (_label, args, ready, path_) => {
  let running: Running;
  beforeAll(async () => {
    running = await start(args, ready);
  }, 60_000);
  afterAll(() => running?.stop());

  it('answers a 10 MB chunked body with a JSON 413 before the client could send it all', async () => {
    const res = await streamRequest(running.server, { path: path_, headers: JSON_TYPE, total: TEN_MB });
    expect(res.status).toBe(413);
    expect(res.json).toEqual({ error: 'request body is larger than 65536 bytes', details: [expect.objectContaining({ path: '(root)' })] });
    expect(res.sent).toBeLessThan(TEN_MB);
  });

  it('answers a structured event that is a JSON array with a JSON 400, not a 500', async () => {
    const eventPath = path_ === '/' ? '/' : '/events/cluster-registration';
    const res = await streamRequest(running.server, { path: eventPath, headers: { 'content-type': 'application/cloudevents+json' }, body: Buffer.from('[]') });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(/structured CloudEvent must be a JSON object/);
  });
});
