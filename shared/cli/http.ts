// The CLI's HTTP client: one request per call to the meshlink API, JSON in and out, with an
// identity token when the server wants one. node:http rather than fetch: the connect timeout
// (an unreachable server fails within CONNECT_TIMEOUT_MS) must not cap a long sweep's answer.
import http from 'node:http';
import https from 'node:https';
import type { ErrorCode } from '../errors.js';
import { CliError, failure } from './errors.js';

/** How long reaching the server may take; the answer itself may take longer (a sweep). */
export const CONNECT_TIMEOUT_MS = 8_000;

/** Produces the `Authorization` header value for a request, or nothing. */
export type TokenSource = () => Promise<string | undefined>;

export interface ApiAnswer {
  status: number;
  body: unknown;
}

export interface ApiErrorBody {
  error: string;
  details?: { path: string; message: string }[];
}

/** An answer of 400 or more: the API's message and field paths, and the status. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super('failed', CODE_OF_STATUS[status] ?? 'internal', body.error, body.details ?? []);
    this.name = 'ApiError';
  }
}

const CODE_OF_STATUS: Record<number, ErrorCode> = {
  400: 'invalid-argument',
  403: 'permission-denied',
  404: 'not-found',
  409: 'conflict',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  503: 'unavailable',
};

/** The API's `{error, details}`; anything else (a proxy's page, a wrong URL) says where it came from. */
function errorBody(method: string, path: string, body: unknown): ApiErrorBody {
  if (body && typeof body === 'object' && typeof (body as ApiErrorBody).error === 'string') return body as ApiErrorBody;
  const text = typeof body === 'string' ? body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 120) : '';
  return { error: `${method} ${path}: not a meshlink API answer${text ? ` (${text})` : ''}` };
}

export class ApiClient {
  constructor(
    readonly server: URL,
    private readonly token: TokenSource = async () => undefined,
    private readonly connectTimeoutMs = CONNECT_TIMEOUT_MS,
  ) {}

  /** Sends one request; an answer of 400 or more is an ApiError, an unreachable server a one-line CliError. */
  async request(method: string, path: string, body?: { contentType: string; text: string }): Promise<ApiAnswer> {
    const answer = await this.send(method, path, body);
    if (answer.status >= 400) throw new ApiError(answer.status, errorBody(method, path, answer.body));
    return answer;
  }

  /** Like request, but every status is an answer (callers that branch on 404). */
  async send(method: string, path: string, body?: { contentType: string; text: string }): Promise<ApiAnswer> {
    // Joined as text: `rotations:sweep` resolved as a relative URL would read as a scheme.
    const url = new URL(`${this.server.href.replace(/\/$/, '')}${path}`);
    const headers: Record<string, string> = { accept: 'application/json' };
    let authorization: string | undefined;
    try {
      authorization = await this.token();
    } catch (err) {
      throw failure('permission-denied', `cannot get an identity token for ${this.server.origin}: ${oneLine(err)}`);
    }
    if (authorization) headers.authorization = authorization;
    if (body) {
      headers['content-type'] = body.contentType;
      headers['content-length'] = String(Buffer.byteLength(body.text));
    }
    const raw = await exchange(url, method, headers, body?.text, this.connectTimeoutMs);
    return { status: raw.status, body: parseBody(raw.contentType, raw.text) };
  }
}

function parseBody(contentType: string, text: string): unknown {
  if (text === '') return undefined;
  if (contentType.includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

function exchange(url: URL, method: string, headers: Record<string, string>, text: string | undefined, connectTimeoutMs: number): Promise<{ status: number; contentType: string; text: string }> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const unreachable = (why: string) => failure('unavailable', `cannot reach the meshlink server at ${url.origin}: ${why}`);
    const req = lib.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => reject(unreachable(oneLine(err))));
    });
    const timer = setTimeout(() => req.destroy(new Error(`no connection within ${connectTimeoutMs / 1000} s`)), connectTimeoutMs);
    req.on('socket', (socket) => {
      // Connected (and, for https, handshaken): from here on the answer may take its time.
      socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(timer));
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      const code = (err as NodeJS.ErrnoException).code;
      reject(unreachable(code && !err.message.includes(code) ? `${code} ${err.message}` : err.message));
    });
    req.on('close', () => clearTimeout(timer));
    req.end(text);
  });
}
