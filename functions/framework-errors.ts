// functions-framework reads request bodies before our handlers run (body-parser, up to 1 GB, a
// chunked or compressed body read whole before any limit applies), and its CloudEvent middleware
// throws on a body that cannot be an event (a 500, so Pub/Sub redelivers for ever), both ending in
// Express's error page. This module patches the Express and middleware the framework uses so that:
// - every body is read here, under MAX_BODY_BYTES while it arrives (http-request.ts), and
//   body-parser finds it read and leaves it alone;
// - a CloudEvent function refuses a request that cannot be an event with a logged 4xx
//   (cloud-event-request.ts) before the framework's middleware sees it;
// - any other failure is a JSON error like the API's own, never a stack trace;
// - an HTTP function runs in no node:domain (withoutDomain below).
// It must be imported before the framework builds its server (the framework loads the user module
// first, then builds the app).
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLogger, errorFields, type Logger } from '../shared/log.js';
import { cloudEventFromRequest } from './cloud-event-request.js';
import { errorResponse, MAX_BODY_BYTES, mediaType, type ApiResponse } from './http-api.js';
import { closeUnread, readRequestBody, toApiRequest } from './http-request.js';
import { runtimeDeps } from './runtime.js';

type Request = IncomingMessage & { body?: unknown; rawBody?: Buffer; path?: string };
type Next = (err?: unknown) => void;
type Handle = (req: Request, res: ServerResponse, callback?: Next) => void;
type Middleware = (req: Request, res: ServerResponse, next: Next) => void;

/** The app's logger; a plain one when the app cannot be built (bad configuration). */
function logger(): Promise<Logger> {
  return runtimeDeps().then(
    (deps) => deps.log,
    () => createLogger(),
  );
}

function sendJson(res: ServerResponse, { status, body }: ApiResponse, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body));
}

/** A failure nothing else answered: logged, and a 500 without its message. */
function internalError(res: ServerResponse, err: unknown): void {
  void logger().then((log) => log.error('unexpected error', errorFields(err)));
  sendJson(res, { status: 500, body: { error: 'internal error' } });
}

/** What body-parser would have made of the body, for the framework's CloudEvent handling. */
function parsedBody(req: Request, body: Buffer): unknown {
  if (body.length === 0) return undefined;
  const type = mediaType({ contentType: req.headers['content-type'] });
  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      return JSON.parse(body.toString('utf8'));
    } catch {
      return undefined; // the handler decodes rawBody and names the error
    }
  }
  return type.startsWith('text/') ? body.toString('utf8') : body;
}

/** Reads the body under the limit, then lets Express route the request; refuses it otherwise. */
function readFirst(original: Handle): Handle {
  return function handle(this: unknown, req, res, callback) {
    const done: Next =
      callback ??
      ((err?: unknown) => {
        if (!err) return sendJson(res, { status: 404, body: { error: `no route for ${req.url ?? ''}` } });
        const e = err as { status?: number; statusCode?: number; message?: string };
        const status = e.status ?? e.statusCode ?? 500;
        if (status >= 400 && status < 500) return sendJson(res, { status, body: { error: e.message ?? 'bad request' } });
        internalError(res, err);
      });
    readRequestBody(req, MAX_BODY_BYTES).then(
      (body) => {
        req.rawBody = body;
        req.body = parsedBody(req, body);
        original.call(this, req, res, done);
      },
      (err: unknown) => {
        // The body was not read to its end: answer, then close without reading the rest.
        closeUnread(req);
        sendJson(res, errorResponse(err), { Connection: 'close' });
      },
    );
  };
}

/** Refuses, with a logged 4xx, a request to a CloudEvent function that cannot be an event. */
function eventsOnly(convert: Middleware): Middleware {
  return (req, res, next) => {
    let refusal: ApiResponse | undefined;
    if (req.method !== 'POST') {
      const message = `method ${req.method ?? ''} not allowed: CloudEvents are POSTed`;
      refusal = { status: 405, body: { error: message, details: [{ path: '(root)', message: 'use POST' }] } };
    } else {
      try {
        cloudEventFromRequest(toApiRequest(req));
      } catch (err) {
        refusal = errorResponse(err);
      }
    }
    if (!refusal) return convert(req, res, next);
    const { status, body } = refusal;
    void logger()
      .then((log) => log.warn('request refused: not a CloudEvent', { status, reason: (body as { error: string }).error, path: req.path ?? req.url }))
      .finally(() => sendJson(res, refusal, status === 405 ? { Allow: 'POST' } : {}));
  };
}

/**
 * An HTTP function as the framework runs it, without the node:domain it makes per request: the
 * first domain made enables node:domain's async hook for the whole process, after which every
 * promise, in a domain or not, is tracked to its destruction (about 1 µs a promise here; a create
 * makes some 1,400, 2 to 3 ms of its CPU). An error the function throws or rejects with is
 * answered 500 as JSON (after the answer began: ended); meshlink's functions catch their own.
 */
function withoutDomain(fn: (req: Request, res: ServerResponse) => unknown): Middleware {
  return (req, res) => {
    const failed = (err: unknown) => internalError(res, err);
    try {
      const ret = fn(req, res);
      if (ret instanceof Promise) ret.catch(failed);
    } catch (err) {
      failed(err);
    }
  };
}

function install(): void {
  const requireFromFramework = createRequire(createRequire(import.meta.url).resolve('@google-cloud/functions-framework'));
  const express = requireFromFramework('express') as { application: { handle: Handle; __meshlinkPatched?: boolean } };
  const app = express.application;
  if (app.__meshlinkPatched) return;
  app.handle = readFirst(app.handle);
  // The framework installs this middleware for CloudEvent functions only; it reads the module's
  // export when it builds a server, so replacing the export reaches every server built after.
  const events = requireFromFramework('./middleware/background_event_to_cloud_event.js') as { backgroundEventToCloudEventMiddleware: Middleware };
  events.backgroundEventToCloudEventMiddleware = eventsOnly(events.backgroundEventToCloudEventMiddleware);
  // Read from the module's exports when a server is built, as above. CloudEvent functions keep
  // the framework's wrapper (and its domain): it also answers their callbacks.
  const wrappers = requireFromFramework('./function_wrappers.js') as { wrapUserFunction: (fn: unknown, signatureType: string) => Middleware };
  const wrap = wrappers.wrapUserFunction;
  wrappers.wrapUserFunction = (fn, signatureType) => (signatureType === 'http' ? withoutDomain(fn as (req: Request, res: ServerResponse) => unknown) : wrap(fn, signatureType));
  app.__meshlinkPatched = true;
}

install();
