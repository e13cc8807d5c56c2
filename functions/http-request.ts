// A Node HTTP request as the API reads it. The body is read under a size limit while it arrives:
// the bytes on the wire (a chunked body has no Content-Length to check first) and, for a
// compressed body, the bytes it inflates to. Reading stops at the first byte over the limit, so a
// 10 MB upload or a gzip bomb costs about the limit, never the whole body.
import type { IncomingMessage } from 'node:http';
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import { MeshlinkError } from '../shared/errors.js';
import { tooLarge, type ApiRequest } from './http-api.js';

/** The encodings body-parser inflated before us (zstd needs Node 23). `x-gzip` is gzip (RFC 9110). */
const DECODERS: Record<string, () => Transform> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

function cutOff(): MeshlinkError {
  return new MeshlinkError('invalid-argument', 'the request body was cut off', { details: [{ path: '(root)', message: 'the connection closed before the body ended' }] });
}

/**
 * The whole body, decoded, or a MeshlinkError: `payload-too-large` (on the wire, declared or
 * inflated), `unsupported-media-type` (an unknown Content-Encoding), `invalid-argument` (a body
 * that does not inflate). On an error the request is left paused, part read: the caller answers
 * and closes the connection (see `closeUnread`).
 */
export function readRequestBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    const decoder = encoding === 'identity' || encoding === '' ? undefined : DECODERS[encoding]?.();
    const chunks: Buffer[] = [];
    let wire = 0;
    let size = 0;
    let settled = false;

    const stop = (err: MeshlinkError) => {
      if (settled) return;
      settled = true;
      req.pause();
      req.removeListener('data', onWire);
      decoder?.destroy();
      reject(err);
    };
    const collect = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return stop(tooLarge(limit));
      chunks.push(chunk);
    };
    const finish = () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, size));
    };
    function onWire(chunk: Buffer) {
      wire += chunk.length;
      if (wire > limit) return stop(tooLarge(limit));
      if (decoder) decoder.write(chunk);
      else collect(chunk);
    }

    req.on('data', onWire);
    req.on('end', () => (decoder ? decoder.end() : finish()));
    req.on('error', () => stop(cutOff()));
    req.on('close', () => {
      if (!req.complete) stop(cutOff());
    });

    if (encoding !== 'identity' && encoding !== '' && !decoder) {
      return stop(new MeshlinkError('unsupported-media-type', `content encoding ${encoding} is not supported: send gzip, deflate, br or none`, { details: [{ path: '(root)', message: `Content-Encoding ${encoding}` }] }));
    }
    if (Number(req.headers['content-length'] ?? 0) > limit) return stop(tooLarge(limit));
    decoder?.on('data', collect);
    decoder?.on('end', finish);
    decoder?.on('error', (err: Error) =>
      stop(new MeshlinkError('invalid-argument', `request body is not valid ${encoding}`, { details: [{ path: '(root)', message: err.message }] })),
    );
  });
}

/** How long a refused upload's connection stays open, unread, for the client to read the answer. */
const LINGER_MS = 2_000;

/**
 * For an answer to a request whose body was not read to its end: read no more of it, and
 * half-close the connection once answered (the answer says `Connection: close`). Closing at once
 * would reset the connection while the client is still sending, and a client can lose the answer
 * to that reset; so the socket is destroyed LINGER_MS later, unless it closed before.
 */
export function closeUnread(req: IncomingMessage): void {
  const socket = req.socket;
  req.pause();
  // Node drains ("dumps") the rest of a request nobody has read from once it is answered; a
  // request refused on its Content-Length holds what came with the headers, unread. Reading that
  // (already in memory) makes the request consumed, so Node leaves it paused.
  req.read();
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  // Node ends a `Connection: close` answer with destroySoon(), which destroys the socket with
  // the unread body still queued (a reset): end it instead, and let the timer destroy it.
  (socket as { destroySoon?: () => void }).destroySoon = () => socket.end();
}

/** A request whose body was read (`rawBody`), with the path Express parsed, as an ApiRequest. */
export function toApiRequest(req: IncomingMessage & { path?: string; rawBody?: Buffer }): ApiRequest {
  const contentType = req.headers['content-type'];
  const url = URL.parse(req.url ?? '/', 'http://localhost'); // null for what no URL can be: no query
  const query: Record<string, string> = {};
  for (const [name, value] of url?.searchParams ?? []) query[name] ??= value;
  return {
    method: req.method ?? 'GET',
    path: req.path ?? url?.pathname ?? '/',
    query,
    ...(contentType ? { contentType } : {}),
    // Node lowercases header names; repeated headers arrive as arrays.
    headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v ?? '')])),
    body: req.rawBody ?? Buffer.alloc(0),
  };
}
