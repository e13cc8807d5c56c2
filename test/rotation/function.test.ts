// The rotation CloudEvent functions through functions-framework's own server (getTestServer):
// the worker (meshlinkRotateLink) as Eventarc and a push subscription deliver its message, the
// sweep (meshlinkSweep) as the scheduler's message arrives, and which failures are acknowledged
// (2xx) and which make Pub/Sub redeliver (non-2xx). Plus the message decoding as a table.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import '../../functions/rotation.js'; // registers the CloudEvent functions
import { decodeRotationMessage } from '../../shared/queue/pubsub-rotation-queue.js';
import { FUNCTION_NAMES } from '../../functions/names.js';
import { setRuntimeDeps } from '../../functions/runtime.js';
import { MeshlinkError } from '../../shared/errors.js';
import { PUBSUB_MESSAGE_PUBLISHED } from '../../shared/queue/pubsub-message.js';
import { CountingStore } from '../support/counting-store.js';
import type { SecretMetadata } from '../../shared/store/port.js';
import { binaryCloudEvent, pubsubMessage, pushBody } from '../support/registration.js';
import { rotationApp, type RotationApp } from '../support/rotation-app.js';

const DAY = 86_400_000;

async function listen(name: string): Promise<{ server: Server; url: string }> {
  const server = getTestServer(name) as unknown as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function dueLink(): Promise<RotationApp> {
  const app = rotationApp();
  await app.create();
  app.clock.advance(20 * DAY);
  setRuntimeDeps(app.deps);
  return app;
}

const rotation = (link: unknown) => pubsubMessage({ link, reason: 'NearingExpiry' });
afterEach(() => setRuntimeDeps(undefined));

describe(`the ${FUNCTION_NAMES.rotateLink} CloudEvent function`, () => {
  let fn: { server: Server; url: string };
  beforeAll(async () => {
    fn = await listen(FUNCTION_NAMES.rotateLink);
  });
  afterAll(() => new Promise<void>((resolve) => fn.server.close(() => resolve())));

  it.each([
    ['a binary-mode CloudEvent (Eventarc)', '/', () => binaryCloudEvent(rotation('mysql'))],
    ['a push subscription body on /projects/P/topics/T', '/projects/meshlink-demo/topics/meshlink-rotation', () => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(pushBody(rotation('mysql'))) })],
  ])('rotates the link of %s and acknowledges', async (_label, path, request) => {
    const app = await dueLink();
    const { headers, body } = request();
    const res = await fetch(fn.url + path, { method: 'POST', headers, body });
    expect(res.status).toBe(204);
    expect((await app.versions('server')).length).toBe(2);
  });

  it('acknowledges a malformed message without doing anything', async () => {
    const app = await dueLink();
    const { headers, body } = binaryCloudEvent(pubsubMessage({ nothing: 'here' }));
    const res = await fetch(fn.url, { method: 'POST', headers, body });
    expect(res.status).toBe(204);
    expect((await app.versions('server')).length).toBe(1);
    expect(app.log.lines.find((l) => l.message === 'rotation message ignored; acknowledged without effect')).toMatchObject({ reason: 'message has no valid link name' });
  });

  it('answers non-2xx when the store is unavailable, so Pub/Sub redelivers', async () => {
    const app = await dueLink();
    class Unavailable extends CountingStore {
      override async getSecret(): Promise<SecretMetadata> {
        throw new MeshlinkError('unavailable', 'Secret Manager: UNAVAILABLE');
      }
    }
    setRuntimeDeps({ ...app.deps, store: new Unavailable(app.store) });
    const { headers, body } = binaryCloudEvent(rotation('mysql'));
    const res = await fetch(fn.url, { method: 'POST', headers, body });
    expect(res.status).toBeGreaterThanOrEqual(500);
  });

  it('acknowledges a message for a link deleted meanwhile', async () => {
    await dueLink();
    const { headers, body } = binaryCloudEvent(rotation('gone'));
    expect((await fetch(fn.url, { method: 'POST', headers, body })).status).toBe(204);
  });
});

describe(`the ${FUNCTION_NAMES.sweep} CloudEvent function`, () => {
  let fn: { server: Server; url: string };
  beforeAll(async () => {
    fn = await listen(FUNCTION_NAMES.sweep);
  });
  afterAll(() => new Promise<void>((resolve) => fn.server.close(() => resolve())));

  it('sweeps on the scheduler’s message and fans the due link out (in-process without a topic)', async () => {
    const app = await dueLink();
    const { headers, body } = binaryCloudEvent(pubsubMessage({}));
    const res = await fetch(fn.url, { method: 'POST', headers, body });
    expect(res.status).toBe(204);
    expect((await app.versions('client')).length).toBe(2);
    expect(app.log.lines.find((l) => l.message === 'sweep done')).toMatchObject({ listed: 1, due: 1 });
  });
});

describe('decodeRotationMessage', () => {
  const event = (data: string | undefined) => ({ type: PUBSUB_MESSAGE_PUBLISHED, data: { message: { ...(data === undefined ? {} : { data }), messageId: 'm-1' } } });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  it.each([
    ['a link and a reason', event(b64('{"link":"mysql","reason":"NearingExpiry"}')), { link: 'mysql', reason: 'NearingExpiry', messageId: 'm-1' }],
    ['a link without a reason', event(b64('{"link":"mysql"}')), { link: 'mysql', reason: 'unspecified', messageId: 'm-1' }],
    ['no data', event(undefined), { ignore: 'empty message' }],
    ['data that is not base64', event('not base64!'), { ignore: 'message data is not base64' }],
    ['data that is not JSON', event(b64('link=mysql')), { ignore: 'message data is not JSON' }],
    ['a JSON array', event(b64('["mysql"]')), { ignore: 'message data is not a JSON object' }],
    ['no link', event(b64('{"reason":"x"}')), { ignore: 'message has no valid link name' }],
    ['a link name that is not one', event(b64('{"link":"../etc"}')), { ignore: 'message has no valid link name' }],
    ['a link name longer than a spec allows', event(b64(`{"link":"${'a'.repeat(41)}"}`)), { ignore: 'message has no valid link name' }],
    ['not a Pub/Sub event', { type: 'google.cloud.storage.object.v1.finalized', data: {} }, { ignore: expect.stringMatching(/unexpected CloudEvent type/) }],
  ])('%s', (_name, input, expected) => {
    expect(decodeRotationMessage(input)).toEqual(expected);
  });
});
