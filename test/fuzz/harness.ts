// The fuzz suite's world: the real functions (API, registration, rotation) served by
// functions-framework on 127.0.0.1, over the embedded defaults (local file store, local cluster
// directories) in a temp dir seeded with two healthy links; raw HTTP to send what fetch refuses
// to (wrong Content-Length, chunked bodies); snapshots of every file; captured logs.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, it } from 'vitest';
import { addLocalRoutes } from '../../functions/index.js';
import { FUNCTION_NAMES } from '../../functions/names.js';
import { registrationRoutes } from '../../functions/registration.js';
import { setRuntimeDeps } from '../../functions/runtime.js';
import type { AppDeps } from '../../shared/app/deps.js';
import { composeApp } from '../../shared/compose.js';
import { parseConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/log.js';
import { specInput, withField } from '../support/builders.js';

addLocalRoutes(registrationRoutes);

/** Fast-check runs per property: small in `npm test`, larger in `npm run fuzz` (FUZZ_RUNS). */
export const FUZZ_RUNS = Math.max(1, Number(process.env.FUZZ_RUNS ?? 20) || 20);
/** A fixed seed replays a failing run (`FUZZ_SEED=... npm run fuzz`). */
const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
export const fcOptions: { numRuns: number; seed?: number; endOnFailure: boolean } = { numRuns: FUZZ_RUNS, ...(seed !== undefined ? { seed } : {}), endOnFailure: false };
/** Per-test budget, growing with the runs (a bound against a hang, not a speed check). */
export const fuzzTimeout = 30_000 + FUZZ_RUNS * 1_500;

/** The two healthy links every world starts with, on the same pair of local clusters. */
export const SEEDS = {
  mysql: specInput(),
  pg: withField(withField(withField(specInput({}, 'pg'), 'client.port', 5432), 'server.port', 5432), 'server.service', 'pg.default.svc.cluster.local'),
} as const;
export type SeedName = keyof typeof SEEDS;
/** A valid spec for a link that is not there yet: its own name, host and ports (no conflict with the seeds). */
export const NEW_LINK = withField(withField(specInput({}, 'fuzz'), 'client.port', 4000), 'server.port', 4000);
export const SEED_NAMES = Object.keys(SEEDS) as SeedName[];
export const SEED_CLUSTERS = ['client-cluster', 'server-cluster'] as const;

export interface Reply {
  status: number;
  contentType: string;
  text: string;
  /** The body as JSON, or undefined when it is empty or not JSON. */
  json: any;
}

export type Snapshot = Map<string, string>;

export interface World {
  dir: string;
  stateDir: string;
  deps: AppDeps;
  urls: { api: string; registration: string; rotateLink: string; sweep: string };
  /** Every log line written so far: the app's logger and anything on stdout / stderr. */
  logs: string[];
  /** Path (relative to the temp dir) -> mode and content hash, for every file and directory. */
  snapshot(): Promise<Snapshot>;
  close(): Promise<void>;
}

async function listen(name: string): Promise<{ server: Server; url: string }> {
  const server = getTestServer(name) as unknown as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function walk(root: string, rel: string, into: Snapshot): Promise<void> {
  const entries = await readdir(join(root, rel), { withFileTypes: true });
  await Promise.all(
    entries.map(async (entry) => {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      const full = join(root, path);
      const mode = ((await stat(full)).mode & 0o777).toString(8);
      if (entry.isDirectory()) {
        into.set(`${path}/`, mode);
        await walk(root, path, into);
      } else {
        into.set(path, `${mode} ${createHash('sha256').update(await readFile(full)).digest('hex')}`);
      }
    }),
  );
}

/** Captures what anything writes to stdout and stderr (the framework's own error logs included). */
function captureStdio(into: string[]): () => void {
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((s) => s.write.bind(s));
  streams.forEach((s, i) => {
    s.write = ((chunk: unknown, ...rest: unknown[]) => {
      into.push(String(chunk));
      return (originals[i] as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof s.write;
  });
  return () => streams.forEach((s, i) => (s.write = originals[i] as typeof s.write));
}

/**
 * Starts the world: a temp dir, the app composed from a configuration as production parses it
 * (local store, local clusters, no remote cluster reachable: MESHLINK_CLUSTER_ACCESS empty keeps
 * the fuzz off the network), the four functions on ephemeral ports, and the seeded links.
 */
export async function startWorld(): Promise<World> {
  // Memory-backed when the machine has it: the store fsyncs every write, and the fuzz makes many.
  const dir = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'meshlink-fuzz-'));
  const stateDir = join(dir, 'state');
  const logs: string[] = [];
  const config = parseConfig({ MESHLINK_STATE_DIR: stateDir, MESHLINK_CLUSTER_ACCESS: '', MESHLINK_SWEEP_INTERVAL: 'off', MESHLINK_LOG_LEVEL: 'DEBUG' });
  const log = createLogger({ write: (line) => logs.push(line), minSeverity: 'DEBUG' });
  const deps = await composeApp(config, { workerId: 'fuzz', log });
  setRuntimeDeps(deps);
  const restoreStdio = captureStdio(logs);
  const servers = await Promise.all([FUNCTION_NAMES.api, FUNCTION_NAMES.clusterRegistration, FUNCTION_NAMES.rotateLink, FUNCTION_NAMES.sweep].map(listen));
  const [api, registration, rotateLink, sweep] = servers.map((s) => s.url) as [string, string, string, string];
  const world: World = {
    dir,
    stateDir,
    deps,
    urls: { api, registration, rotateLink, sweep },
    logs,
    async snapshot() {
      const into: Snapshot = new Map();
      await walk(dir, '', into);
      return into;
    },
    async close() {
      restoreStdio();
      setRuntimeDeps(undefined);
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.server.close(() => resolve()))));
      await rm(dir, { recursive: true, force: true });
    },
  };
  for (const name of SEED_NAMES) {
    const res = await send(api, { method: 'POST', path: '/links', headers: { 'content-type': 'application/json' }, body: JSON.stringify(SEEDS[name]) });
    if (res.status !== 201) throw new Error(`seeding ${name}: ${res.status} ${res.text}`);
  }
  return world;
}

/** A property test with the suite's budget (FUZZ_RUNS, FUZZ_SEED). */
export function fuzzProperty<T>(title: string, property: () => fc.IAsyncProperty<T>): void {
  it(title, () => fc.assert(property(), fcOptions), fuzzTimeout);
}

/** The world of a describe block: started before its tests, closed after them. */
export function useWorld(): World {
  let world: World | undefined;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(() => world?.close());
  return new Proxy({} as World, {
    get: (_target, key) => {
      if (!world) throw new Error('the fuzz world is not started yet');
      return world[key as keyof World];
    },
  });
}

/** A test body run in a world of its own (for properties that may leave a link behind). */
export function inOwnWorld(run: (world: World) => Promise<void>): () => Promise<void> {
  return async () => {
    const world = await startWorld();
    try {
      await run(world);
    } finally {
      await world.close();
    }
  };
}

export interface RawRequest {
  method: string;
  /** Sent as it is on the request line (no normalisation). */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /**
   * How the body is framed: its true Content-Length (the default), chunks, a Content-Length one
   * byte short (the rest reads as the next request) or ten bytes long (the client then
   * half-closes), or both a Content-Length and chunks.
   */
  framing?: 'length' | 'chunked' | 'short length' | 'long length' | 'length and chunked';
}

function reply(status: number, contentType: string, text: string): Reply {
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status, contentType, text, json };
}

/**
 * One HTTP/1.1 request over a raw socket (Connection: close), so that framing can be wrong on
 * purpose. The answer is read until the server closes; a request the server never answers gives
 * status 0 once the client gives up.
 */
export function send(base: string, req: RawRequest): Promise<Reply> {
  const url = new URL(base);
  const body = req.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
  const framing = req.framing ?? 'length';
  const headers: Record<string, string> = { host: url.host, connection: 'close', ...(req.headers ?? {}) };
  const chunked = framing === 'chunked' || framing === 'length and chunked';
  if (chunked) headers['transfer-encoding'] = 'chunked';
  const length = { length: body.length, 'short length': Math.max(0, body.length - 1), 'long length': body.length + 10, 'length and chunked': body.length, chunked: undefined }[framing];
  if (length !== undefined && (body.length > 0 || req.method !== 'GET' || framing !== 'length')) headers['content-length'] ??= String(length);
  const head = `${req.method} ${req.path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  const payload = chunked ? Buffer.concat([...chunks(body), Buffer.from('0\r\n\r\n')]) : body;
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const received: Buffer[] = [];
    const giveUp = setTimeout(() => socket.destroy(), 10_000);
    socket.on('data', (d) => received.push(d));
    socket.on('error', (err) => {
      // A server that answers before reading the whole body may reset the socket.
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET' && (err as NodeJS.ErrnoException).code !== 'EPIPE') reject(err);
    });
    socket.on('close', () => {
      clearTimeout(giveUp);
      resolve(parseResponse(Buffer.concat(received)));
    });
    socket.write(Buffer.concat([Buffer.from(head, 'latin1'), payload]));
    // The bytes a long Content-Length promised never come: say so, or the server waits for them.
    if (framing === 'long length') socket.end();
  });
}

function* chunks(body: Buffer): Generator<Buffer> {
  for (let i = 0; i < body.length; i += 8192) {
    const part = body.subarray(i, i + 8192);
    yield Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]);
  }
}

function parseResponse(raw: Buffer): Reply {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return reply(0, '', raw.toString('utf8'));
  const head = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
  const fields = new Map(head.slice(1).map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  let body = raw.subarray(end + 4);
  if (fields.get('transfer-encoding')?.toLowerCase() === 'chunked') body = dechunk(body);
  return reply(status, fields.get('content-type') ?? '', body.toString('utf8'));
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const eol = body.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(body.subarray(at, eol).toString('latin1'), 16);
    if (!size) break;
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** JSON request to the API. */
export function sendJson(world: World, method: string, path: string, body?: unknown): Promise<Reply> {
  return send(world.urls.api, { method, path, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

/** The files of a snapshot that differ from another (added, removed or changed). */
export function changedPaths(before: Snapshot, after: Snapshot): string[] {
  const paths = new Set([...before.keys(), ...after.keys()]);
  return [...paths].filter((p) => before.get(p) !== after.get(p)).sort();
}
