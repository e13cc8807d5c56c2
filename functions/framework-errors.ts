// functions-framework parses request bodies before our handler runs, and a malformed JSON body
// or an oversized one ends in Express's default error page (HTML, with a stack trace outside
// production). This module makes every such failure a JSON error like the API's own, and refuses
// an oversized body by its Content-Length before anything reads it.
// It patches the Express instance functions-framework uses, so it must be imported before the
// framework builds its server (the framework loads the user module first, then builds the app).
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_BODY_BYTES } from './http-api.js';

type Handle = (req: IncomingMessage, res: ServerResponse, callback?: (err?: unknown) => void) => void;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body));
}

function parsesAsJson(text: string | undefined): boolean {
  if (text === undefined) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function install(): void {
  const requireFromFramework = createRequire(createRequire(import.meta.url).resolve('@google-cloud/functions-framework'));
  const express = requireFromFramework('express') as { application: { handle: Handle; __meshlinkPatched?: boolean } };
  const app = express.application;
  if (app.__meshlinkPatched) return;
  const original = app.handle;
  app.handle = function handle(this: unknown, req, res, callback) {
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > MAX_BODY_BYTES) {
      sendJson(res, 413, { error: `request body is larger than ${MAX_BODY_BYTES} bytes` });
      return;
    }
    const done =
      callback ??
      ((err?: unknown) => {
        if (!err) return sendJson(res, 404, { error: `no route for ${req.url ?? ''}` });
        const e = err as { status?: number; statusCode?: number; type?: string; message?: string; body?: string };
        const status = e.status ?? e.statusCode ?? 500;
        if (e.type === 'entity.parse.failed') {
          // body-parser's strict mode also refuses valid JSON that is not an object or array.
          if (parsesAsJson(e.body)) return sendJson(res, 400, { error: 'invalid link spec', details: [{ path: '(root)', message: 'must be a JSON object' }] });
          return sendJson(res, 400, { error: 'request body is not valid JSON', details: [{ path: '(root)', message: e.message ?? 'parse error' }] });
        }
        if (e.type === 'entity.too.large') return sendJson(res, 413, { error: `request body is larger than ${MAX_BODY_BYTES} bytes` });
        return sendJson(res, status >= 400 && status < 500 ? status : 500, { error: status >= 400 && status < 500 ? (e.message ?? 'bad request') : 'internal error' });
      });
    original.call(this, req, res, done);
  };
  app.__meshlinkPatched = true;
}

install();
