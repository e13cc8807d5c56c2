// A wire-level fake of the Cloud Storage JSON API subset the claims adapter uses
// (shared/store/claims/cloud-storage-claims.ts), over plain HTTP on loopback, so the adapter is tested
// through the real @google-cloud/storage client and its wire format.
//
// Supports, on the buckets named at start: objects.insert as a multipart upload
// (`POST /upload/storage/v1/b/B/o?uploadType=multipart`, the object's resource then its bytes) with
// `ifGenerationMatch` (0: only if absent); objects.get of metadata (`GET /storage/v1/b/B/o/O`,
// `alt=json`); objects.delete with `ifGenerationMatch`; objects.list with `prefix`, `maxResults`
// and `pageToken`. Generations count up per fake, as the service's grow; metageneration is 1.
// Errors are the JSON API's (`{error: {code, message, errors: [{reason}]}}`): 404 notFound, 412
// conditionNotMet, 400 invalid, and whatever a test injects (429, 503, ...).
// Not implemented (501): media downloads (`alt=media`), resumable uploads, metadata patch or
// update, `ifMetagenerationMatch` and the `...NotMatch` preconditions, compose, copy and rewrite,
// ACLs, IAM, buckets' own resources, `delimiter` and `matchGlob` in listings, versioning, retention
// and holds, authentication (any or no token is accepted), checksums of the bytes sent.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../../shared/clock.js';

/** The JSON API method names the fake answers. */
export type StorageOp = 'objects.insert' | 'objects.get' | 'objects.delete' | 'objects.list';

export interface StoredObjectMeta {
  name: string;
  generation: number;
  timeCreated: string;
  metadata: Record<string, string>;
  contentType: string;
  size: number;
}

export interface FakeCloudStorage {
  /** `http://127.0.0.1:PORT`: the client's apiEndpoint. */
  url: string;
  /** Calls per method, failed ones included. */
  calls: Partial<Record<StorageOp, number>>;
  /** Every call, in order, with the object named and the status answered. */
  requests: { op: StorageOp; object?: string; query: Record<string, string>; status: number }[];
  /** The bucket's objects by name (a copy). */
  objects(bucket: string): Map<string, StoredObjectMeta>;
  /** The next call of `op` fails with `status` instead of running (queued). */
  failNext(op: StorageOp, status: number): void;
  /** The next call of `op` runs, then answers `status`: the client cannot know it was applied (a lost answer). */
  failAfterNext(op: StorageOp, status: number): void;
  /** Asked before each call (after the queued failures): a status fails the call without running it. */
  injectFailures(decide: ((op: StorageOp, object: string | undefined) => number | undefined) | undefined): void;
  close(): Promise<void>;
}

const REASON: Record<number, string> = { 400: 'invalid', 404: 'notFound', 412: 'conditionNotMet', 429: 'rateLimitExceeded', 501: 'notImplemented', 503: 'backendError' };

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The parts of a multipart/related body, each as its headers and bytes. */
function multipartParts(contentType: string, raw: Buffer): { headers: string; data: Buffer }[] {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!contentType.startsWith('multipart/related') || !boundary) throw new HttpError(400, `expected multipart/related with a boundary, got ${contentType}`);
  const text = raw.toString('latin1');
  return text
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((part) => {
      const split = part.indexOf('\r\n\r\n');
      if (split < 0) throw new HttpError(400, 'a multipart part without headers');
      return { headers: part.slice(0, split), data: Buffer.from(part.slice(split + 4).replace(/\r\n$/, ''), 'latin1') };
    });
}

function resource(bucket: string, o: StoredObjectMeta) {
  return {
    kind: 'storage#object',
    id: `${bucket}/${o.name}/${o.generation}`,
    name: o.name,
    bucket,
    generation: String(o.generation),
    metageneration: '1',
    contentType: o.contentType,
    size: String(o.size),
    timeCreated: o.timeCreated,
    updated: o.timeCreated,
    metadata: { ...o.metadata },
  };
}

/** `ifGenerationMatch` as the service reads it: absent, or a whole number. */
function generationPrecondition(query: URLSearchParams): number | undefined {
  const raw = query.get('ifGenerationMatch');
  if (raw === null) return undefined;
  if (!/^\d+$/.test(raw)) throw new HttpError(400, `invalid ifGenerationMatch ${raw}`);
  return Number(raw);
}

export async function startFakeCloudStorage(options: { buckets: string[]; clock?: Clock }): Promise<FakeCloudStorage> {
  const clock = options.clock ?? systemClock;
  const buckets = new Map(options.buckets.map((b) => [b, new Map<string, StoredObjectMeta>()]));
  let generation = 1_700_000_000_000_000;
  const calls: FakeCloudStorage['calls'] = {};
  const requests: FakeCloudStorage['requests'] = [];
  const queued = new Map<StorageOp, { status: number; applied: boolean }[]>();
  let decide: ((op: StorageOp, object: string | undefined) => number | undefined) | undefined;

  function bucketOf(name: string): Map<string, StoredObjectMeta> {
    const bucket = buckets.get(name);
    if (!bucket) throw new HttpError(404, `The specified bucket does not exist.`);
    return bucket;
  }

  function route(method: string, path: string): { op: StorageOp; bucket: string; object?: string } | undefined {
    let m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
    if (m && method === 'POST') return { op: 'objects.insert', bucket: decodeURIComponent(m[1]!) };
    m = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
    if (m && method === 'GET') return { op: 'objects.list', bucket: decodeURIComponent(m[1]!) };
    m = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/.exec(path);
    if (m && (method === 'GET' || method === 'DELETE')) return { op: method === 'GET' ? 'objects.get' : 'objects.delete', bucket: decodeURIComponent(m[1]!), object: decodeURIComponent(m[2]!) };
    return undefined;
  }

  async function run(op: StorageOp, bucketName: string, object: string | undefined, query: URLSearchParams, req: IncomingMessage): Promise<{ status: number; json?: unknown }> {
    const bucket = bucketOf(bucketName);
    switch (op) {
      case 'objects.insert': {
        if (query.get('uploadType') !== 'multipart') throw new HttpError(501, `uploadType ${query.get('uploadType')} is not implemented`);
        const parts = multipartParts(String(req.headers['content-type'] ?? ''), await body(req));
        if (parts.length !== 2) throw new HttpError(400, `expected 2 multipart parts, got ${parts.length}`);
        const meta = JSON.parse(parts[0]!.data.toString('utf8')) as { name?: string; metadata?: Record<string, string>; contentType?: string };
        const name = query.get('name') ?? meta.name;
        if (!name) throw new HttpError(400, 'Required: object name');
        const wanted = generationPrecondition(query);
        const current = bucket.get(name);
        if (wanted !== undefined && (current?.generation ?? 0) !== wanted) throw new HttpError(412, 'At least one of the pre-conditions you specified did not hold.');
        const stored: StoredObjectMeta = {
          name,
          generation: ++generation,
          timeCreated: clock().toISOString(),
          metadata: { ...meta.metadata },
          contentType: meta.contentType ?? /content-type:\s*([^\r\n]+)/i.exec(parts[1]!.headers)?.[1] ?? 'application/octet-stream',
          size: parts[1]!.data.length,
        };
        bucket.set(name, stored);
        return { status: 200, json: resource(bucketName, stored) };
      }
      case 'objects.get': {
        if (query.get('alt') === 'media') throw new HttpError(501, 'media downloads are not implemented');
        const found = bucket.get(object!);
        if (!found) throw new HttpError(404, `No such object: ${bucketName}/${object}`);
        return { status: 200, json: resource(bucketName, found) };
      }
      case 'objects.delete': {
        const found = bucket.get(object!);
        if (!found) throw new HttpError(404, `No such object: ${bucketName}/${object}`);
        const wanted = generationPrecondition(query);
        if (wanted !== undefined && found.generation !== wanted) throw new HttpError(412, 'At least one of the pre-conditions you specified did not hold.');
        bucket.delete(object!);
        return { status: 204 };
      }
      case 'objects.list': {
        if (query.has('delimiter') || query.has('matchGlob')) throw new HttpError(501, 'delimiter and matchGlob are not implemented');
        const prefix = query.get('prefix') ?? '';
        const max = Math.min(Number(query.get('maxResults') ?? 1000) || 1000, 1000);
        const names = [...bucket.keys()].filter((n) => n.startsWith(prefix) && n > (query.get('pageToken') ?? '')).sort();
        const page = names.slice(0, max);
        const next = names.length > max ? page.at(-1) : undefined;
        return { status: 200, json: { kind: 'storage#objects', items: page.map((n) => resource(bucketName, bucket.get(n)!)), ...(next ? { nextPageToken: next } : {}) } };
      }
    }
  }

  function answer(res: ServerResponse, status: number, json?: unknown): void {
    if (json === undefined) {
      res.writeHead(status).end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(json));
  }

  function error(status: number, message: string) {
    return { error: { code: status, message, errors: [{ domain: 'global', reason: REASON[status] ?? 'error', message }] } };
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const found = route(req.method ?? 'GET', url.pathname);
    if (!found) {
      answer(res, 501, error(501, `${req.method} ${url.pathname} is not implemented by the fake`));
      return;
    }
    const { op, bucket, object } = found;
    calls[op] = (calls[op] ?? 0) + 1;
    const entry: FakeCloudStorage['requests'][number] = { op, ...(object !== undefined ? { object } : {}), query: Object.fromEntries(url.searchParams), status: 0 };
    requests.push(entry);
    const send = (status: number, json?: unknown) => {
      entry.status = status;
      answer(res, status, json);
    };
    const injected = queued.get(op)?.shift();
    const decided = injected ? undefined : decide?.(op, object ?? url.searchParams.get('name') ?? undefined);
    if ((injected && !injected.applied) || decided) {
      const status = injected?.status ?? decided!;
      req.resume(); // the body is not read: drain it so the client sees the answer
      send(status, error(status, `injected ${status}`));
      return;
    }
    run(op, bucket, object, url.searchParams, req).then(
      ({ status, json }) => (injected ? send(injected.status, error(injected.status, `injected ${injected.status}`)) : send(status, json)),
      (err: unknown) => {
        const status = err instanceof HttpError ? err.status : 500;
        send(status, error(status, err instanceof Error ? err.message : String(err)));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const queue = (op: StorageOp, status: number, applied: boolean) => queued.set(op, [...(queued.get(op) ?? []), { status, applied }]);
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    requests,
    objects: (name) => new Map([...bucketOf(name)].map(([k, v]) => [k, { ...v, metadata: { ...v.metadata } }])),
    failNext: (op, status) => queue(op, status, false),
    failAfterNext: (op, status) => queue(op, status, true),
    injectFailures(fn) {
      decide = fn;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
