// The CLI as a child process (bin/meshlink.js, as `npx meshlink` runs it) and the local server it
// talks to (`npm start`'s functions/local.ts on a fresh state directory and a free port).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const BIN = path.join(ROOT, 'bin', 'meshlink.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `meshlink ARGS` to its end (stdin: `input`, or nothing). */
export function runCli(args: string[], options: { input?: string; env?: Record<string, string | undefined>; script?: string[] } = {}): Promise<CliRun> {
  const env: Record<string, string | undefined> = { ...process.env, MESHLINK_SERVER: undefined, MESHLINK_AUDIENCE: undefined, ...options.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const child = spawn(process.execPath, [...(options.script ?? [BIN]), ...args], { cwd: ROOT, env: env as NodeJS.ProcessEnv, stdio: 'pipe' });
  return collect(child, options.input);
}

export function collect(child: ChildProcess, input?: string): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  child.stdin!.end(input ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A port nothing listens on (just released by the OS). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface LocalServer {
  url: string;
  stateDir: string;
  stop(): Promise<void>;
}

/** `npm start` (functions/local.ts) on embedded defaults in a temporary state directory; the sweep timer off. */
export async function startLocalServer(): Promise<LocalServer> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'meshlink-cli-'));
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'functions', 'local.ts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), MESHLINK_STATE_DIR: stateDir, MESHLINK_SWEEP_INTERVAL: 'off', MESHLINK_LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the local server exited: ${stderr}`);
    const up = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stateDir,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
