// The 64 KiB body limit, enforced while the body arrives, on every function functions-framework
// serves (the API, which `npm start` serves with its local routes, and the CloudEvent functions):
// a chunked body, a declared Content-Length and a compressed body, over a real socket. What
// counts is what the server read off the wire (socket bytesRead) and what it inflated, not time.
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { addLocalRoutes } from '../../functions/index.js';
import { MAX_BODY_BYTES } from '../../functions/http-api.js';
import { FUNCTION_NAMES } from '../../functions/names.js';
import { registrationRoutes } from '../../functions/registration.js';
import { setRuntimeDeps } from '../../functions/runtime.js';
import { applyLink } from '../../shared/app/provision.js';
import { specInput } from '../support/builders.js';
import { storeWrites, testApp } from '../support/app.js';
import { listenCounting, streamRequest, type CountingServer } from '../support/http.js';

addLocalRoutes(registrationRoutes);

const TEN_MB = 10 * 1024 * 1024;
/**
 * Far below the 10 MB sent (measured: about 190 KB read, 80 KiB inflated): the limit, plus the
 * socket reads (64 KiB each) and stream buffers in flight when reading stops.
 */
const READ_BOUND = 8 * MAX_BODY_BYTES;
const JSON_TYPE = { 'content-type': 'application/json' };

const app = testApp({ start: new Date().toISOString() });
const servers: Record<string, CountingServer> = {};

beforeAll(async () => {
  setRuntimeDeps(app.deps);
  await applyLink(app.deps, specInput());
  for (const name of Object.values(FUNCTION_NAMES)) servers[name] = await listenCounting(name);
});
afterAll(async () => {
  setRuntimeDeps(undefined);
  await Promise.all(Object.values(servers).map((s) => s.close()));
});
afterEach(() => vi.restoreAllMocks());

/** Where a body goes: every API route that reads one, and the CloudEvent functions. */
const targets: [string, string, string][] = [
  ['POST /links', FUNCTION_NAMES.api, '/links'],
  ['POST /links/{name}:rotate', FUNCTION_NAMES.api, '/links/mysql:rotate'],
  ['POST /rotations:sweep', FUNCTION_NAMES.api, '/rotations:sweep'],
  ['POST /events/cluster-registration (local server)', FUNCTION_NAMES.api, '/events/cluster-registration'],
  [FUNCTION_NAMES.clusterRegistration, FUNCTION_NAMES.clusterRegistration, '/'],
  [FUNCTION_NAMES.rotateLink, FUNCTION_NAMES.rotateLink, '/'],
  [FUNCTION_NAMES.sweep, FUNCTION_NAMES.sweep, '/'],
];

function expectRefused(res: { status: number; headers: Record<string, unknown>; json: any; text: string }, status: number, message: RegExp) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/application\/json/);
  expect(res.json?.error).toMatch(message);
  expect(res.json.details).toEqual([{ path: '(root)', message: expect.any(String) }]);
  expect(res.text).not.toMatch(/\bat .+:\d+:\d+|<html|<!DOCTYPE/i);
}

/** What one request made the server read, and whether it changed anything stored. */
async function measured(server: CountingServer, send: () => ReturnType<typeof streamRequest>) {
  const writes = storeWrites(app.store);
  const before = server.bytesRead();
  const res = await send();
  // One more exchange on another connection, so that a server that went on reading (draining the
  // refused body after its answer) has had its turn to do so before we count.
  await fetch(`${server.url}/healthz`);
  return { res, read: server.bytesRead() - before, stored: storeWrites(app.store) - writes };
}

/** Counts what every gunzip stream created from now on inflates. */
function countInflated(): () => number {
  let inflated = 0;
  const create = zlib.createGunzip;
  vi.spyOn(zlib, 'createGunzip').mockImplementation((options) => {
    const stream = create(options);
    stream.on('data', (chunk: Buffer) => (inflated += chunk.length));
    return stream;
  });
  return () => inflated;
}

describe.each(targets)('the body limit on %s', (_label, fn, path) => {
  it('answers a 10 MB chunked body with 413 after reading about 64 KiB of it', async () => {
    const server = servers[fn]!;
    const { res, read, stored } = await measured(server, () => streamRequest(server, { path, headers: JSON_TYPE, total: TEN_MB }));
    expectRefused(res, 413, /larger than 65536 bytes/);
    expect(res.headers['transfer-encoding']).toBeUndefined();
    expect(read).toBeLessThan(READ_BOUND);
    expect(stored).toBe(0);
  });

  it('answers a declared 10 MB Content-Length with 413 without reading the body', async () => {
    const server = servers[fn]!;
    const { res, read } = await measured(server, () => streamRequest(server, { path, headers: { ...JSON_TYPE, 'content-length': String(TEN_MB) }, total: TEN_MB }));
    expectRefused(res, 413, /larger than/);
    expect(read).toBeLessThan(READ_BOUND);
  });

  it('answers a gzip body of 10 MB of spaces with 413, inflating no more than about 64 KiB', async () => {
    const server = servers[fn]!;
    const inflated = countInflated();
    const body = zlib.gzipSync(Buffer.alloc(TEN_MB, 32));
    const { res, stored } = await measured(server, () => streamRequest(server, { path, headers: { ...JSON_TYPE, 'content-encoding': 'gzip' }, body }));
    expectRefused(res, 413, /larger than/);
    expect(inflated()).toBeLessThan(READ_BOUND);
    expect(stored).toBe(0);
  });

  it('answers a compressed body that is over the limit on the wire with 413 after reading about 64 KiB', async () => {
    const server = servers[fn]!;
    // Random bytes do not compress: the gzip stream is as large as its content.
    const body = zlib.gzipSync(randomBytes(4 * MAX_BODY_BYTES));
    expect(body.length).toBeGreaterThan(2 * MAX_BODY_BYTES);
    const { res, read } = await measured(server, () => streamRequest(server, { path, headers: { ...JSON_TYPE, 'content-encoding': 'gzip' }, chunk: body, total: body.length * 40 }));
    expectRefused(res, 413, /larger than/);
    expect(read).toBeLessThan(READ_BOUND);
  });
});

describe('bodies within the limit', () => {
  const api = () => servers[FUNCTION_NAMES.api]!;
  const spec = (padding: number) => Buffer.concat([Buffer.from(JSON.stringify(specInput())), Buffer.alloc(padding, 32)]);

  it('accepts a chunked spec of exactly 64 KiB and refuses one byte more', async () => {
    const exact = spec(MAX_BODY_BYTES - spec(0).length);
    expect(exact.length).toBe(MAX_BODY_BYTES);
    const ok = await streamRequest(api(), { path: '/links', headers: JSON_TYPE, chunk: exact, total: exact.length });
    expect(ok.status).toBe(200);
    const over = Buffer.concat([exact, Buffer.from(' ')]);
    const refused = await streamRequest(api(), { path: '/links', headers: JSON_TYPE, chunk: over, total: over.length });
    expectRefused(refused, 413, /larger than/);
  });

  it.each([
    ['gzip', zlib.gzipSync],
    ['deflate', zlib.deflateSync],
    ['br', zlib.brotliCompressSync],
  ] as const)('accepts a %s-compressed spec', async (encoding, compress) => {
    const res = await streamRequest(api(), { path: '/links', headers: { ...JSON_TYPE, 'content-encoding': encoding }, body: compress(spec(0)) });
    expect(res.status).toBe(200);
    expect(res.json.name).toBe('mysql');
  });

  it.each([
    ['a gzip body that is not gzip', 'gzip', Buffer.from('{"name": "mysql"}'), 400, /not valid gzip/],
    ['an unknown content encoding', 'compress', Buffer.from('{}'), 415, /content encoding compress is not supported/],
  ])('answers %s with a JSON error and stores nothing', async (_label, encoding, body, status, message) => {
    const { res, stored } = await measured(api(), () => streamRequest(api(), { path: '/links', headers: { ...JSON_TYPE, 'content-encoding': encoding }, body }));
    expectRefused(res, status, message);
    expect(stored).toBe(0);
  });
});
