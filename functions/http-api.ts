// The HTTP API as a plain function of a decoded request: routing (Express's Router), body decoding
// and error encoding. Thin: every route calls one use-case. Served without a server of its own, so
// tests call it directly and functions-framework, the local server and tests share one path.
import { Router } from 'express';
import { MeshlinkError, type ErrorCode } from '../shared/errors.js';
import { issuerNameProblem, linkNameProblem } from '../shared/link/spec.js';
import type { AppDeps } from '../shared/app/deps.js';
import { applyLink } from '../shared/app/provision.js';
import { getLink, linkCaBundle, listLinks } from '../shared/app/queries.js';
import { deleteLink } from '../shared/app/delete.js';
import { deleteIssuer, getIssuer, listIssuers, putIssuerBundle, putIssuerReference } from '../shared/app/issuers.js';
import { errorFields } from '../shared/log.js';
import { parseYamlBody } from './yaml-body.js';

/** Largest accepted body: a link spec is well under 4 KiB. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface ApiRequest {
  method: string;
  /** Path without the query string, e.g. `/links/mysql`. */
  path: string;
  contentType?: string;
  /** Query parameters (the first value of each), for the routes that take any. */
  query?: Record<string, string>;
  /** Request headers, names lowercased (routes that read more than the content type). */
  headers?: Record<string, string>;
  body: Buffer;
}

export interface ApiResponse {
  status: number;
  /** Encoded as JSON, unless `headers` name a content type and the body is a string (a page): then sent as it is. */
  body?: unknown;
  /** Extra response headers, names lowercased. */
  headers?: Record<string, string>;
}

/** A body to send as it is rather than as JSON. */
export function rawBody(response: ApiResponse): string | undefined {
  return typeof response.body === 'string' && response.headers?.['content-type'] ? response.body : undefined;
}

/** Extra routes other modules plug in (rotation, registration, pages) without touching this file's core. */
export type RouteHandler = (deps: AppDeps, req: ApiRequest, params: Record<string, string>) => Promise<ApiResponse>;
export interface Route {
  method: string;
  /**
   * An Express path, matched case-sensitively and strictly (`{/}`: an optional trailing slash; `\\:`
   * a literal colon). `:name` is a link's name and `:issuer` an issuer's, checked by the spec's own
   * rule before any handler runs (NAMES).
   */
  path: string;
  handler: RouteHandler;
}

/**
 * The rule of each name a path takes. A name the spec refuses does not match its route (the path
 * may fit another: `/links/x:rotate`); when it fits none, the answer is a 400 naming `name`.
 */
const NAMES: Record<string, { what: string; problem: (value: string) => string | undefined }> = {
  name: { what: 'link name', problem: linkNameProblem },
  issuer: { what: 'issuer name', problem: issuerNameProblem },
};

const STATUS_OF: Record<ErrorCode, number> = {
  'invalid-argument': 400,
  'not-found': 404,
  'already-exists': 409,
  conflict: 409,
  'permission-denied': 403,
  unavailable: 503,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  internal: 500,
};

/** The request's media type, lowercased, without parameters ('' when none is given). */
export function mediaType(req: Pick<ApiRequest, 'contentType'>): string {
  return (req.contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

export function tooLarge(limit = MAX_BODY_BYTES): MeshlinkError {
  return new MeshlinkError('payload-too-large', `request body is larger than ${limit} bytes`, { details: [{ path: '(root)', message: `must be at most ${limit} bytes (also once decompressed)` }] });
}

/** The body limit for requests handled in process; over HTTP it is enforced while reading (http-request.ts). */
export function checkBodySize(req: Pick<ApiRequest, 'body'>): void {
  if (req.body.length > MAX_BODY_BYTES) throw tooLarge();
}

/** Which of the two formats a body is in; any other media type is 415, even for an empty body. */
export function bodyFormat(req: Pick<ApiRequest, 'contentType'>): 'json' | 'yaml' {
  const type = mediaType(req);
  if (type === 'application/json' || type === '') return 'json';
  if (type === 'application/yaml' || type === 'application/x-yaml' || type === 'text/yaml') return 'yaml';
  throw new MeshlinkError('unsupported-media-type', `content type ${type} is not supported: send application/json or application/yaml`, { details: [{ path: '(root)', message: `Content-Type ${type || '(none)'}` }] });
}

/** Decodes a JSON or YAML body; anything else is 415. */
export function decodeBody(req: ApiRequest): unknown {
  checkBodySize(req);
  const format = bodyFormat(req);
  const text = req.body.toString('utf8');
  if (format === 'yaml') return parseYamlBody(text);
  if (text.trim() === '') throw new MeshlinkError('invalid-argument', 'request body is empty', { details: [{ path: '(root)', message: 'a link spec is required' }] });
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new MeshlinkError('invalid-argument', 'request body is not valid JSON', { details: [{ path: '(root)', message: (err as Error).message }] });
  }
}

/** The media type of an issuer's PEM bundle (RFC 7468 has none; this is the common one). */
export const PEM_MEDIA_TYPE = 'application/x-pem-file';

/** PUT /issuers/{name}: a PEM bundle, or (JSON or YAML) where the organisation keeps it; any other media type is 415. */
async function putIssuer(deps: AppDeps, req: ApiRequest, name: string): Promise<ApiResponse> {
  checkBodySize(req);
  const type = mediaType(req);
  if (type !== PEM_MEDIA_TYPE) {
    try {
      bodyFormat(req);
    } catch (err) {
      throw new MeshlinkError('unsupported-media-type', `content type ${type} is not supported for an issuer: send ${PEM_MEDIA_TYPE} (a bundle) or JSON/YAML (where the organisation keeps it)`, {
        cause: err,
        details: [{ path: '(root)', message: `Content-Type ${type}` }],
      });
    }
  }
  const result = type === PEM_MEDIA_TYPE ? await putIssuerBundle(deps, name, req.body.toString('utf8')) : await putIssuerReference(deps, name, decodeBody(req));
  return { status: result.created ? 201 : 200, body: result.status };
}

const coreRoutes: Route[] = [
  {
    method: 'POST',
    path: '/links{/}',
    handler: async (deps, req) => {
      const result = await applyLink(deps, decodeBody(req));
      return { status: result.created ? 201 : 200, body: result.status };
    },
  },
  { method: 'GET', path: '/links{/}', handler: async (deps) => ({ status: 200, body: { links: await listLinks(deps) } }) },
  { method: 'GET', path: '/links/:name', handler: async (deps, _req, p) => ({ status: 200, body: await getLink(deps, p.name!) }) },
  {
    // What a partner must trust, as PEM (curl -o ca.pem); both CAs during a rollover.
    method: 'GET',
    path: '/links/:name/ca.pem',
    handler: async (deps, _req, p) => ({ status: 200, headers: { 'content-type': 'application/x-pem-file' }, body: await linkCaBundle(deps, p.name!) }),
  },
  {
    method: 'DELETE',
    path: '/links/:name',
    handler: async (deps, req, p) => {
      // 204: all gone. What could not be removed is reported: 202 while the sweep still tries
      // (`pending`), 200 when it was given up (`abandoned`: a malformed cluster reference, or
      // with `?force=true` a cluster not answering).
      const { pending, abandoned } = await deleteLink(deps, p.name!, { force: booleanParam(req, 'force') });
      if (pending.length === 0 && abandoned.length === 0) return { status: 204 };
      return { status: pending.length > 0 ? 202 : 200, body: { link: p.name!, pending, abandoned } };
    },
  },
  { method: 'PUT', path: '/issuers/:issuer', handler: (deps, req, p) => putIssuer(deps, req, p.issuer!) },
  { method: 'GET', path: '/issuers{/}', handler: async (deps) => ({ status: 200, body: { issuers: await listIssuers(deps) } }) },
  { method: 'GET', path: '/issuers/:issuer', handler: async (deps, _req, p) => ({ status: 200, body: await getIssuer(deps, p.issuer!) }) },
  {
    method: 'DELETE',
    path: '/issuers/:issuer',
    handler: async (deps, _req, p) => {
      await deleteIssuer(deps, p.issuer!);
      return { status: 204 };
    },
  },
  { method: 'GET', path: '/healthz', handler: async () => ({ status: 200, body: { status: 'ok' } }) },
];

/** A boolean query parameter: absent or `false` is false, `true` is true; anything else is a 400 naming it. */
function booleanParam(req: ApiRequest, name: string): boolean {
  const value = req.query?.[name];
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw new MeshlinkError('invalid-argument', `query parameter ${name} must be true or false`, { details: [{ path: name, message: `must be true or false, not ${JSON.stringify(value.slice(0, 40))}` }] });
}

/** Seconds until a retry has a chance: the adapter's hint, else one second (RFC 9110 delay-seconds). */
function retryAfterSeconds(err: MeshlinkError): number {
  return Math.max(1, Math.ceil((err.retryAfterMs ?? 1000) / 1000));
}

export function errorResponse(err: unknown, deps?: Pick<AppDeps, 'log'>): ApiResponse {
  if (err instanceof MeshlinkError) {
    const status = STATUS_OF[err.code];
    if (status >= 500) deps?.log.error('request failed', { ...errorFields(err), reason: err.code });
    const body = { error: err.message, ...(err.details.length ? { details: err.details } : {}) };
    return err.retryable ? { status, headers: { 'retry-after': String(retryAfterSeconds(err)) }, body } : { status, body };
  }
  // An unexpected failure: log it (message only), answer without internals.
  deps?.log.error('unexpected error', errorFields(err));
  return { status: 500, body: { error: 'internal error' } };
}

/** The router's request: the decoded request, where to answer, and the first name refused. */
interface Dispatch {
  method: string;
  url: string;
  params: Record<string, string>;
  deps: AppDeps;
  request: ApiRequest;
  answer(response: Promise<ApiResponse>): void;
  refused?: MeshlinkError;
}

/**
 * One Express route per path, its methods a table (another method is a 405, as HEAD and OPTIONS
 * are: Express would otherwise answer them itself), names checked once by router.param.
 */
function apiRouter(routes: readonly Route[]): Router {
  const router = Router({ caseSensitive: true, strict: true });
  for (const [param, { what, problem }] of Object.entries(NAMES)) {
    router.param(param, (req, _res, next, value: string) => {
      const message = problem(value);
      if (message === undefined) return next();
      (req as unknown as Dispatch).refused ??= new MeshlinkError('invalid-argument', `invalid ${what}`, { details: [{ path: 'name', message }] });
      next('route');
    });
  }
  for (const path of new Set(routes.map((r) => r.path))) {
    const methods = routes.filter((r) => r.path === path);
    router.route(path).all((req, _res) => {
      const r = req as unknown as Dispatch;
      const route = methods.find((m) => m.method === r.method);
      r.answer(route ? Promise.resolve().then(() => route.handler(r.deps, r.request, r.params)) : Promise.resolve({ status: 405, body: { error: `method ${r.method} not allowed on ${r.request.path}` } }));
    });
  }
  return router;
}

/** The last router built, kept while the table holds the same routes (callers pass a new list per request). */
let built: { routes: readonly Route[]; router: Router } | undefined;

function routerFor(routes: readonly Route[]): Router {
  if (!built || built.routes.length !== routes.length || built.routes.some((r, i) => r !== routes[i])) built = { routes, router: apiRouter(routes) };
  return built.router;
}

/** Routes the request: the answer of the route that takes it, or a 404 when none does. */
function dispatch(router: Router, deps: AppDeps, request: ApiRequest): Promise<ApiResponse> {
  const noRoute = () => new MeshlinkError('not-found', `no route for ${request.path}`);
  // A route's words and names are unreserved ASCII, so a percent-encoded path names none of them
  // (Express would decode `%6Dysql` into the link `mysql`).
  if (request.path.includes('%')) return Promise.reject(noRoute());
  return new Promise((resolve, reject) => {
    const req: Omit<Dispatch, 'params'> = { method: request.method, url: request.path, deps, request, answer: (response) => response.then(resolve, reject) };
    router(req as never, {} as never, (err?: unknown) => reject(err ?? req.refused ?? noRoute()));
  });
}

export async function handleApiRequest(deps: AppDeps, req: ApiRequest, extraRoutes: Route[] = []): Promise<ApiResponse> {
  try {
    return await dispatch(routerFor([...coreRoutes, ...extraRoutes]), deps, req);
  } catch (err) {
    return errorResponse(err, deps);
  }
}
