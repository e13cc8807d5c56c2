// Which HTTP requests are CloudEvents, as functions-framework reads them: binary mode (context in
// `ce-*` headers, the body is the data), structured mode (`application/cloudevents+json`, the body
// is the whole event), both decoded by the `cloudevents` SDK, or a Pub/Sub push body `{message,
// subscription}` (what a push subscription sends; the framework turns one into a CloudEvent on the
// `/projects/P/topics/T` path). Anything else cannot be an event: a 400 naming why, for the
// CloudEvent functions and the local replay route.
import type * as CloudEvents from 'cloudevents';
import { MeshlinkError } from '../shared/errors.js';
import { requireLibrary } from '../shared/require-library.js';
import { checkBodySize, mediaType, type ApiRequest } from './http-api.js';

const BINARY_HEADERS = ['ce-specversion', 'ce-type', 'ce-source', 'ce-id'] as const;
/** The attributes every CloudEvent has (CloudEvents 1.0, "Required Attributes"). */
const REQUIRED_ATTRIBUTES = ['specversion', 'id', 'source', 'type'] as const;
let sdk: typeof CloudEvents | undefined;

/**
 * The SDK, loaded (its CommonJS build) on the first event: with uuid and ajv's runtime it costs tens
 * of milliseconds, which the HTTP API's cold start would otherwise pay for nothing.
 */
function cloudEvents(): typeof CloudEvents {
  sdk ??= requireLibrary<typeof CloudEvents>('cloudevents');
  return sdk;
}

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

/**
 * A binary- or structured-mode event, decoded by the SDK. What a structured event must hold is
 * checked first: the SDK would fill in a missing id, spread an array into attributes, and its
 * validation stops at the first attribute missing.
 */
function decodeEvent(headers: Record<string, string>, body: Buffer, structured: boolean): Record<string, unknown> {
  const what = structured ? 'the structured CloudEvent' : 'the CloudEvent data';
  if (structured) {
    const event = parseJson(body, what);
    if (!isObject(event)) throw new MeshlinkError('invalid-argument', 'a structured CloudEvent must be a JSON object', { details: [{ path: '(root)', message: `is ${Array.isArray(event) ? 'an array' : typeof event}` }] });
    const missing = REQUIRED_ATTRIBUTES.filter((a) => typeof event[a] !== 'string' || event[a] === '');
    if (missing.length > 0) throw new MeshlinkError('invalid-argument', 'invalid CloudEvent', { details: missing.map((a) => ({ path: a, message: 'is required (a non-empty string)' })) });
  }
  let event: CloudEvents.CloudEvent<unknown>;
  try {
    event = cloudEvents().HTTP.toEvent({ headers, body: body.toString('utf8') }) as CloudEvents.CloudEvent<unknown>;
  } catch (err) {
    // The attributes are checked above (structured) or present (binary): what fails is the JSON.
    throw new MeshlinkError('invalid-argument', `${what} is not valid JSON`, { cause: err, details: [{ path: '(root)', message: (err as Error).message }] });
  }
  return { ...event.toJSON(), data: jsonData(event.data, structured) };
}

/**
 * Pub/Sub's data is JSON whatever the content type says: the SDK leaves binary-mode text a string
 * and hands `data_base64` over as bytes (an array of byte values).
 */
function jsonData(data: unknown, structured: boolean): unknown {
  if (ArrayBuffer.isView(data)) return parseJson(Buffer.from(data as unknown as ArrayLike<number>), 'the CloudEvent data');
  if (structured || typeof data !== 'string') return data;
  return data === '' ? undefined : parseJson(Buffer.from(data), 'the CloudEvent data');
}

/** The CloudEvent (or push body) an HTTP request carries; a MeshlinkError if it cannot be one. */
export function cloudEventFromRequest(req: ApiRequest): unknown {
  checkBodySize(req);
  const headers: Record<string, string> = { ...req.headers, ...(req.contentType ? { 'content-type': req.contentType } : {}) };
  const type = mediaType({ contentType: headers['content-type'] });
  const structured = type === 'application/cloudevents+json';
  if (structured || BINARY_HEADERS.every((h) => headers[h])) return decodeEvent(headers, req.body, structured);
  if (req.body.length === 0) throw notAnEvent('the body is empty');
  if (type !== 'application/json' && type !== '') throw notAnEvent(`a ${type} body without the ce-* headers`);
  const body = parseJson(req.body, 'the request body');
  if (isObject(body) && isObject(body.message)) return body;
  throw notAnEvent('a JSON body that is not a Pub/Sub push body');
}
