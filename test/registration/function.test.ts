// The registration function through functions-framework's own server (getTestServer), as Eventarc
// (binary CloudEvent), a structured CloudEvent and a Pub/Sub push subscription deliver it, and the
// local route POST /events/cluster-registration through the API function.
// Push path conversion: functions-framework 5.0.5 legacyPubSubEventMiddleware (a raw push body sent
// to /projects/P/topics/T becomes a messagePublished CloudEvent); push body shape:
// https://cloud.google.com/pubsub/docs/push. Fixture sources: test/fixtures/registration/README.md.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { addLocalRoutes } from '../../functions/index.js';
import { handleApiRequest } from '../../functions/http-api.js';
import { FUNCTION_NAMES } from '../../functions/names.js';
import { registrationRoutes } from '../../functions/registration.js';
import { setRuntimeDeps } from '../../functions/runtime.js';
import { applyLink } from '../../shared/app/provision.js';
import { getLink } from '../../shared/app/queries.js';
import { credentialName } from '../../shared/link/names.js';
import { specInput } from '../support/builders.js';
import { storeWrites, testApp, type TestApp } from '../support/app.js';
import { unavailable } from '../support/memory-clusters.js';
import { binaryCloudEvent, fixture, pubsubMessage, pushBody, structuredCloudEvent } from '../support/registration.js';

const EDGE = 'projects/meshlink-demo/locations/europe-west1-b/clusters/edge-eu';
const DB_MEMBERSHIP = 'projects/meshlink-demo/locations/global/memberships/db-east';

addLocalRoutes(registrationRoutes);

async function listen(name: string): Promise<{ server: Server; url: string }> {
  const server = getTestServer(name) as unknown as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A link whose client cluster (edge-eu) was rebuilt: empty, waiting for its registration. */
async function rebuiltClient(): Promise<TestApp> {
  const app = testApp();
  const base = specInput();
  await applyLink(app.deps, { ...base, client: { ...base.client, cluster: EDGE }, server: { ...base.server, cluster: DB_MEMBERSHIP } });
  app.clusters.target(EDGE).wipe();
  setRuntimeDeps(app.deps);
  return app;
}

function clientSecret(app: TestApp) {
  return app.clusters.target(EDGE).get('Secret', 'istio-system', credentialName('mysql', 'client'));
}

const created = () => pubsubMessage(fixture('gke-create-cluster-last'));

afterEach(() => setRuntimeDeps(undefined));

describe(`the ${FUNCTION_NAMES.clusterRegistration} CloudEvent function`, () => {
  let fn: { server: Server; url: string };
  beforeAll(async () => {
    fn = await listen(FUNCTION_NAMES.clusterRegistration);
  });
  afterAll(() => new Promise<void>((resolve) => fn.server.close(() => resolve())));

  it.each([
    ['a binary-mode CloudEvent (Eventarc)', '/', () => binaryCloudEvent(created())],
    ['a structured-mode CloudEvent', '/', () => structuredCloudEvent(created())],
    [
      'a push subscription body on /projects/P/topics/T',
      '/projects/meshlink-demo/topics/meshlink-cluster-registration',
      () => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(pushBody(created())) }),
    ],
  ])('restores a rebuilt cluster from %s and acknowledges (2xx)', async (_label, path, request) => {
    const app = await rebuiltClient();
    const { headers, body } = request();
    const res = await fetch(fn.url + path, { method: 'POST', headers, body });
    expect(res.status).toBe(204);
    expect(clientSecret(app)).toBeDefined();
    expect((await getLink(app.deps, 'mysql')).client.sync.status).toBe('synced');
  });

  it('answers non-2xx when the cluster does not answer, so Pub/Sub redelivers', async () => {
    const app = await rebuiltClient();
    app.clusters.target(EDGE).failure = unavailable(EDGE);
    const { headers, body } = binaryCloudEvent(created());
    const res = await fetch(fn.url, { method: 'POST', headers, body });
    expect(res.status).toBe(500);
    expect(clientSecret(app)).toBeUndefined();
  });

  it.each([
    ['a message that is not JSON', () => binaryCloudEvent({ data: Buffer.from('garbage').toString('base64'), messageId: 'm-bad' })],
    ['an empty push message (TOPIC_CONFIGURED)', () => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(pushBody({ attributes: { eventType: 'TOPIC_CONFIGURED' } })) })],
    ['the first entry of a creation', () => binaryCloudEvent(pubsubMessage(fixture('gke-create-cluster-first')))],
  ])('acknowledges %s and changes nothing', async (_label, request) => {
    const app = await rebuiltClient();
    const before = { store: storeWrites(app.store), clusters: app.clusters.totalWrites };
    const { headers, body } = request();
    const res = await fetch(fn.url + '/projects/meshlink-demo/topics/t', { method: 'POST', headers, body });
    expect(res.status).toBe(204);
    expect({ store: storeWrites(app.store), clusters: app.clusters.totalWrites }).toEqual(before);
    expect(app.log.lines).toContainEqual(expect.objectContaining({ message: 'registration message ignored' }));
  });
});

describe('POST /events/cluster-registration (local server)', () => {
  it.each([
    ['binary mode', () => binaryCloudEvent(pubsubMessage({ cluster: EDGE, event: 'registered' }))],
    ['structured mode', () => structuredCloudEvent(pubsubMessage({ cluster: EDGE, event: 'registered' }))],
    ['a push body', () => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(pushBody(pubsubMessage({ cluster: EDGE, event: 'registered' }))) })],
  ])('replays a registration sent in %s through the API function', async (_label, request) => {
    const app = await rebuiltClient();
    const api = await listen(FUNCTION_NAMES.api);
    try {
      const { headers, body } = request();
      const res = await fetch(`${api.url}/events/cluster-registration`, { method: 'POST', headers, body });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ outcome: 'handled', event: 'registered', cluster: EDGE, links: ['mysql'], done: ['mysql'] });
      expect(clientSecret(app)).toBeDefined();
    } finally {
      await new Promise<void>((resolve) => api.server.close(() => resolve()));
    }
  });

  it.each([
    ['a body without CloudEvent headers', { 'content-type': 'application/json' }, '{"cluster":"edge","event":"registered"}', 400, /not a CloudEvent/],
    ['a structured event that is not JSON', { 'content-type': 'application/cloudevents+json' }, '{"specversion":', 400, /not valid JSON/],
    ['a structured event that is a JSON array', { 'content-type': 'application/cloudevents+json' }, '[{"specversion":"1.0"}]', 400, /structured CloudEvent must be a JSON object/],
    ['a structured event without a type', { 'content-type': 'application/cloudevents+json' }, '{"specversion":"1.0","source":"s","id":"1"}', 400, /invalid CloudEvent/],
    ['an empty body', { 'content-type': 'application/json' }, '', 400, /the body is empty/],
    ['binary data that is not JSON', { ...binaryCloudEvent(created()).headers, 'content-type': 'text/plain' }, 'hello', 400, /not valid JSON/],
  ])('refuses %s with %i', async (_label, headers, body, status, message) => {
    const app = testApp();
    const res = await handleApiRequest(app.deps, { method: 'POST', path: '/events/cluster-registration', contentType: headers['content-type'], headers, body: Buffer.from(body) }, registrationRoutes);
    expect(res.status).toBe(status);
    expect((res.body as { error: string }).error).toMatch(message);
  });

  it('answers 503 when the cluster does not answer (retry later) and 200 with the reason for an ignored message', async () => {
    const app = await rebuiltClient();
    app.clusters.target(EDGE).failure = unavailable(EDGE);
    const retry = binaryCloudEvent(created());
    const res = await handleApiRequest(app.deps, { method: 'POST', path: '/events/cluster-registration', headers: retry.headers, contentType: 'application/json', body: Buffer.from(retry.body) }, registrationRoutes);
    expect(res.status).toBe(503);

    const ignored = binaryCloudEvent(pubsubMessage({ cluster: EDGE, event: 'created' }));
    const res2 = await handleApiRequest(app.deps, { method: 'POST', path: '/events/cluster-registration', headers: ignored.headers, contentType: 'application/json', body: Buffer.from(ignored.body) }, registrationRoutes);
    expect(res2).toEqual({ status: 200, body: { outcome: 'ignored', reason: expect.stringMatching(/must be "registered" or "deregistered"/), messageId: expect.any(String) } });
  });
});
