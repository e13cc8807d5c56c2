// Requests that cannot be a CloudEvent, sent to the CloudEvent functions through functions-framework's
// own server: a 4xx with a JSON error, logged, nothing stored; never a 500 (Pub/Sub would redeliver
// a 5xx for ever). What the functions do with real events: test/registration, test/rotation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../functions/index.js';
import { FUNCTION_NAMES } from '../../functions/names.js';
import { setRuntimeDeps } from '../../functions/runtime.js';
import { applyLink } from '../../shared/app/provision.js';
import { specInput } from '../support/builders.js';
import { storeWrites, testApp } from '../support/app.js';
import { listenCounting, streamRequest, type CountingServer } from '../support/http.js';
import { binaryCloudEvent, pubsubMessage } from '../support/registration.js';

const FUNCTIONS = [FUNCTION_NAMES.clusterRegistration, FUNCTION_NAMES.rotateLink, FUNCTION_NAMES.sweep];
const CE_HEADERS = binaryCloudEvent(pubsubMessage({ link: 'mysql' })).headers;

const app = testApp({ start: new Date().toISOString() });
const servers: Record<string, CountingServer> = {};

beforeAll(async () => {
  setRuntimeDeps(app.deps);
  await applyLink(app.deps, specInput());
  for (const name of FUNCTIONS) servers[name] = await listenCounting(name);
});
afterAll(async () => {
  setRuntimeDeps(undefined);
  await Promise.all(Object.values(servers).map((s) => s.close()));
});

type Case = [label: string, method: string, headers: Record<string, string>, body: string | undefined, status: number, error: RegExp, path?: string];

const cases: Case[] = [
  ['an empty body', 'POST', {}, undefined, 400, /not a CloudEvent: the body is empty/],
  ['an empty JSON body', 'POST', { 'content-type': 'application/json' }, '', 400, /not a CloudEvent: the body is empty/],
  ['a text/plain body', 'POST', { 'content-type': 'text/plain' }, 'hello', 400, /not a CloudEvent/],
  ['a JSON body that is not a push body', 'POST', { 'content-type': 'application/json' }, '{"cluster":"edge","event":"registered"}', 400, /not a CloudEvent/],
  ['a JSON array', 'POST', { 'content-type': 'application/json' }, '[]', 400, /not a CloudEvent/],
  ['malformed JSON', 'POST', { 'content-type': 'application/json' }, '{"message":', 400, /not valid JSON/],
  ['a structured event that is a JSON array', 'POST', { 'content-type': 'application/cloudevents+json' }, '[{"specversion":"1.0"}]', 400, /structured CloudEvent must be a JSON object/],
  ['a structured event without its required attributes', 'POST', { 'content-type': 'application/cloudevents+json' }, '{"specversion":"1.0","data":{}}', 400, /invalid CloudEvent/, 'type'],
  ['binary-mode data that is not JSON', 'POST', { ...CE_HEADERS, 'content-type': 'text/plain' }, 'hello', 400, /CloudEvent data is not valid JSON/],
  [
    'a background event the framework cannot convert',
    'POST',
    { 'content-type': 'application/json' },
    '{"context":{"eventType":"providers/cloud.storage/eventTypes/object.change","resource":"nowhere"},"data":{}}',
    400,
    /not a CloudEvent/,
  ],
  ['a GET', 'GET', {}, undefined, 405, /method GET not allowed: CloudEvents are POSTed/],
];

describe.each(FUNCTIONS)('the %s CloudEvent function', (fn) => {
  it.each(cases)('answers %s with a JSON 4xx, logs it and stores nothing', async (_label, method, headers, body, status, error, path = '(root)') => {
    const writes = storeWrites(app.store);
    const clusterWrites = app.clusters.totalWrites;
    const logged = app.log.lines.length;
    const res = await streamRequest(servers[fn]!, { method, path: '/', headers, ...(body !== undefined ? { body: Buffer.from(body) } : {}) });
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.json).toEqual({ error: expect.stringMatching(error), details: expect.arrayContaining([{ path, message: expect.any(String) }]) });
    expect(res.text).not.toMatch(/\bat .+:\d+:\d+|<html|<!DOCTYPE/i);
    expect(app.log.lines.slice(logged)).toContainEqual(
      expect.objectContaining({ severity: 'WARNING', message: 'request refused: not a CloudEvent', status, reason: res.json.error }),
    );
    expect(storeWrites(app.store)).toBe(writes);
    expect(app.clusters.totalWrites).toBe(clusterWrites);
  });
});
