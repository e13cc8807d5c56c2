// CloudEvents and Pub/Sub push bodies for the registration and rotation functions: a Pub/Sub
// message (data: base64 of meshlink's own event, an audit-log entry, a rotation message, random
// JSON, text or no base64 at all) in a binary-mode or structured-mode CloudEvent, a push body, or
// junk; with context attributes left out or wrong. No event names a seeded cluster as registered
// or deregistered: what is valid and changes something is not what this fuzzes.
import fc from 'fast-check';
import { PUBSUB_MESSAGE_PUBLISHED } from '../../../shared/queue/pubsub-message.js';
import { fixture, type Fixture } from '../../support/registration.js';
import { SEED_CLUSTERS, SEED_NAMES } from '../harness.js';
import { oddClusterRef, oddName } from './spec.js';

const FIXTURES: Fixture[] = ['gke-create-cluster-first', 'gke-create-cluster-last', 'gke-create-cluster-sync-error', 'gke-delete-cluster-last', 'fleet-create-membership-last', 'fleet-update-membership-last', 'fleet-delete-membership-last'];

/** What a message's data decodes to. */
const messageDoc = fc.oneof(
  fc.record({ cluster: oddClusterRef.filter((c) => !(SEED_CLUSTERS as readonly string[]).includes(c)), event: fc.constantFrom<unknown>('registered', 'deregistered', 'created', '', null, 1) }, { requiredKeys: [] }),
  fc.constantFrom(...FIXTURES).map((name) => fixture(name)),
  fc.record({ link: fc.oneof(fc.constantFrom<unknown>(...SEED_NAMES, 'nosuch'), oddName), reason: fc.constantFrom<unknown>('due', '', 1) }, { requiredKeys: [] }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** A message's `data`: base64 JSON, base64 text, not base64, empty or absent. */
const data = fc.oneof(
  { weight: 4, arbitrary: messageDoc.map((d) => Buffer.from(JSON.stringify(d) ?? 'null').toString('base64')) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((s) => Buffer.from(s).toString('base64')) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('!!!', 'YQ', '', ' ', 42, null, ['x'], { a: 1 }, undefined) },
);

const message = fc.record(
  {
    data,
    attributes: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }), fc.constantFrom<unknown>(null, 'x', [1])),
    messageId: fc.oneof(fc.stringMatching(/^[0-9]{1,17}$/), fc.constantFrom<unknown>('', 42, null)),
    publishTime: fc.constantFrom<unknown>('2026-11-23T10:06:44.512Z', 'yesterday', 0),
  },
  { requiredKeys: [] },
);

const ceType = fc.constantFrom<unknown>(PUBSUB_MESSAGE_PUBLISHED, 'google.cloud.audit.log.v1.written', '', undefined, 7);

export interface EventRequest {
  /** Which shape, for reading a counterexample. */
  shape: 'binary' | 'structured' | 'push' | 'junk';
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

const binary = fc.tuple(message, ceType, fc.constantFrom('ce-specversion', 'ce-source', 'ce-id', 'none')).map(([m, type, drop]): EventRequest => {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-source': '//pubsub.googleapis.com/projects/p/topics/t',
    'ce-id': 'id-1',
    ...(type !== undefined ? { 'ce-type': String(type) } : {}),
  };
  delete headers[drop];
  return { shape: 'binary', method: 'POST', path: '/', headers, body: JSON.stringify({ message: m, subscription: 'projects/p/subscriptions/s' }) };
});

const structured = fc
  .tuple(fc.oneof({ weight: 4, arbitrary: message.map((m) => ({ message: m }) as unknown) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }), ceType, fc.constantFrom<unknown>('1.0', '0.3', undefined, 1))
  .map(([d, type, specversion]): EventRequest => ({
    shape: 'structured',
    method: 'POST',
    path: '/',
    headers: { 'content-type': 'application/cloudevents+json' },
    body: JSON.stringify({ specversion, type, source: '//pubsub.googleapis.com/projects/p/topics/t', id: 'id-1', data: d }),
  }));

const push = fc.tuple(message, fc.constantFrom('/', '/projects/p/topics/t', '/projects/p/topics/')).map(([m, path]): EventRequest => ({
  shape: 'push',
  method: 'POST',
  path,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ message: m, subscription: 'projects/p/subscriptions/push' }),
}));

const junk = fc
  .tuple(
    fc.constantFrom('POST', 'GET', 'PUT', 'DELETE'),
    fc.constantFrom('application/json', 'application/cloudevents+json', 'text/plain', 'application/octet-stream', ''),
    fc.oneof(fc.constantFrom('', '[]', '[{"message":{}}]', '"x"', '1', 'null', '{}', '{"message":null}', '{"message":"x"}'), fc.string({ maxLength: 40 }), fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null')),
  )
  .map(([method, type, body]): EventRequest => ({ shape: 'junk', method, path: '/', headers: type ? { 'content-type': type } : {}, body }));

export const eventRequest: fc.Arbitrary<EventRequest> = fc.oneof(binary, structured, push, junk);

/** #5: what functions-framework cannot make a CloudEvent of (no POST, no body, a body not JSON): today a 500. */
export function notAnEventToTheFramework(req: EventRequest): boolean {
  if (req.method !== 'POST' || req.body.trim() === '') return true;
  const type = req.headers['content-type'] ?? '';
  if (type !== 'application/json' && type !== 'application/cloudevents+json') return true;
  try {
    const doc = JSON.parse(req.body);
    return doc === null || typeof doc !== 'object';
  } catch {
    return true;
  }
}

/** #7: a structured-mode event that is JSON but no object (an array, a string, a number, null). */
export function structuredNonObject(req: EventRequest): boolean {
  if (req.headers['content-type'] !== 'application/cloudevents+json') return false;
  try {
    const doc = JSON.parse(req.body);
    return doc === null || typeof doc !== 'object' || Array.isArray(doc);
  } catch {
    return false;
  }
}
