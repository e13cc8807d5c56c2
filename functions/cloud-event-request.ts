// Which HTTP requests are CloudEvents, as functions-framework reads them: binary mode (context in
// `ce-*` headers, the body is the data), structured mode (`application/cloudevents+json`, the body
// is the whole event), or a Pub/Sub push body `{message, subscription}` (what a push subscription
// sends; the framework turns one into a CloudEvent on the `/projects/P/topics/T` path). Anything
// else cannot be an event: a 400 naming why, for the CloudEvent functions and the local replay route.
import { MeshlinkError } from '../shared/errors.js';
import { checkBodySize, mediaType, type ApiRequest } from './http-api.js';

const BINARY_HEADERS = ['ce-specversion', 'ce-type', 'ce-source', 'ce-id'] as const;
/** The attributes every CloudEvent has (CloudEvents 1.0, "Required Attributes"). */
const REQUIRED_ATTRIBUTES = ['specversion', 'id', 'source', 'type'] as const;
const HOW = 'send the ce-specversion, ce-type, ce-source and ce-id headers (binary mode), Content-Type application/cloudevents+json (structured mode), or a Pub/Sub push body';

function notAnEvent(why: string): MeshlinkError {
  return new MeshlinkError('invalid-argument', `not a CloudEvent: ${why}`, { details: [{ path: '(root)', message: HOW }] });
}

function parseJson(body: Buffer, what: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new MeshlinkError('invalid-argument', `${what} is not valid JSON`, { details: [{ path: '(root)', message: (err as Error).message }] });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The CloudEvent (or push body) an HTTP request carries; a MeshlinkError if it cannot be one. */
export function cloudEventFromRequest(req: ApiRequest): unknown {
  checkBodySize(req);
  const headers = req.headers ?? {};
  const type = mediaType({ contentType: req.contentType ?? headers['content-type'] });
  if (type === 'application/cloudevents+json') {
    const event = parseJson(req.body, 'the structured CloudEvent');
    if (!isObject(event)) throw new MeshlinkError('invalid-argument', 'a structured CloudEvent must be a JSON object', { details: [{ path: '(root)', message: `is ${Array.isArray(event) ? 'an array' : typeof event}` }] });
    const missing = REQUIRED_ATTRIBUTES.filter((a) => typeof event[a] !== 'string' || event[a] === '');
    if (missing.length > 0) throw new MeshlinkError('invalid-argument', 'invalid CloudEvent', { details: missing.map((a) => ({ path: a, message: 'is required (a non-empty string)' })) });
    return event;
  }
  if (BINARY_HEADERS.every((h) => headers[h])) {
    const context = Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('ce-')).map(([k, v]) => [k.slice(3), v]));
    return { ...context, data: req.body.length > 0 ? parseJson(req.body, 'the CloudEvent data') : undefined };
  }
  if (req.body.length === 0) throw notAnEvent('the body is empty');
  if (type !== 'application/json' && type !== '') throw notAnEvent(`a ${type} body without the ce-* headers`);
  const body = parseJson(req.body, 'the request body');
  if (isObject(body) && isObject(body.message)) return body;
  throw notAnEvent('a JSON body that is not a Pub/Sub push body');
}
