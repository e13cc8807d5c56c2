// The Pub/Sub rotation queue through the real @google-cloud/pubsub client (its own topic, batching
// and retries) against a wire-level fake Publisher, reached as an emulator via PUBSUB_EMULATOR_HOST.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { handleRotateLinkEvent } from '../../functions/rotation.js';
import { decodeRotationMessage } from '../../shared/queue/pubsub-rotation-queue.js';
import { applyLink } from '../../shared/app/provision.js';
import { sweep } from '../../shared/app/sweep.js';
import { isMeshlinkError, type ErrorCode } from '../../shared/errors.js';
import { PUBLISH_TIMEOUT_MS, PubSubRotationQueue } from '../../shared/queue/pubsub-rotation-queue.js';
import { PUBSUB_MESSAGE_PUBLISHED } from '../../shared/queue/pubsub-message.js';
import type { GrpcStatusName } from '../fakes/grpc-fake.js';
import { startFakePubSub, type FakePubSub, type PublishedMessage } from '../fakes/pubsub-server.js';
import { testApp } from '../support/app.js';
import { specInput, withField } from '../support/builders.js';

const PROJECT = 'meshlink-test';
const DAY = 86_400_000;

let fake: FakePubSub;
let topic: string;
let topicCount = 0;

beforeAll(async () => {
  fake = await startFakePubSub();
});
afterAll(() => fake.close());

beforeEach(() => {
  vi.stubEnv('PUBSUB_EMULATOR_HOST', fake.host);
  // The client still asks google-auth for a universe domain: no probe of the GCE metadata server.
  vi.stubEnv('METADATA_SERVER_DETECTION', 'none');
  // A topic per test: the messages of one test never show in another (failures are cleared after it).
  topic = fake.addTopic(PROJECT, `meshlink-rotation-${++topicCount}`);
});
afterEach(() => {
  vi.unstubAllEnvs();
  fake.clearFailures();
  vi.useRealTimers();
});

const decoded = (messages: PublishedMessage[]) => messages.map((m) => [JSON.parse(m.data.toString()), m.attributes]);
const links = (...names: string[]) => names.map((link) => ({ link, reason: 'Forced' }));
const publishCalls = () => fake.calls.Publish ?? 0;

describe('PubSubRotationQueue through the real client', () => {
  it('publishes one message per due link: JSON {link, reason}, attributes link and dedupKey', async () => {
    const queue = new PubSubRotationQueue({ topic });
    await queue.enqueue([
      { link: 'mysql', reason: 'NearingExpiry', dedupKey: 'mysql@2026-11-23T10:00:00.000Z' },
      { link: 'pg', reason: 'Forced' },
    ]);
    expect(decoded(fake.messages(topic))).toEqual([
      [{ link: 'mysql', reason: 'NearingExpiry' }, { link: 'mysql', dedupKey: 'mysql@2026-11-23T10:00:00.000Z' }],
      [{ link: 'pg', reason: 'Forced' }, { link: 'pg', dedupKey: 'pg' }],
    ]);
    // Each message got its own id from the service.
    expect(new Set(fake.messages(topic).map((m) => m.messageId)).size).toBe(2);
  });

  it.each([
    ['a page under the batch size goes out in one Publish', 3, [3]],
    ['a page over the batch size goes out in batches of 100', 150, [100, 50]],
  ])('%s', async (_name, count, batches) => {
    const before = publishCalls();
    const names = Array.from({ length: count }, (_, i) => `link-${i}`);
    await new PubSubRotationQueue({ topic }).enqueue(links(...names));
    const requests = fake.requests.filter((r) => r.method === 'Publish' && r.request.topic === topic);
    expect(requests.map((r) => (r.request.messages as unknown[]).length)).toEqual(batches);
    expect(publishCalls() - before).toBe(batches.length);
    expect(fake.messages(topic).map((m) => m.attributes.link)).toEqual(names);
  });

  it('publishes again on a second enqueue of the same queue', async () => {
    const queue = new PubSubRotationQueue({ topic });
    await queue.enqueue(links('a'));
    await queue.enqueue(links('b', 'c'));
    expect(fake.messages(topic).map((m) => m.attributes.link)).toEqual(['a', 'b', 'c']);
  });

  it.each<[string, string, ErrorCode]>([
    ['a topic the service does not know', `projects/${PROJECT}/topics/no-such-topic`, 'not-found'],
    ['a topic id the service refuses', `projects/${PROJECT}/topics/goog-rotation`, 'invalid-argument'],
  ])('turns %s into a %s error', async (_name, missing, code) => {
    const err = await new PubSubRotationQueue({ topic: missing }).enqueue(links('a')).catch((e: unknown) => e);
    expect(isMeshlinkError(err, code)).toBe(true);
    expect((err as Error).message).toContain(missing);
    expect(fake.messages(missing)).toEqual([]);
  });

  it.each<[string, GrpcStatusName, ErrorCode]>([
    ['a refused publisher', 'PERMISSION_DENIED', 'permission-denied'],
    ['an unauthenticated publisher', 'UNAUTHENTICATED', 'permission-denied'],
    ['a rejected request', 'INVALID_ARGUMENT', 'invalid-argument'],
  ])('turns %s (%s, not retried by the client) into a %s error', async (_name, status, code) => {
    const before = publishCalls();
    fake.failNext('Publish', status);
    const err = await new PubSubRotationQueue({ topic }).enqueue(links('a', 'b')).catch((e: unknown) => e);
    expect(isMeshlinkError(err, code)).toBe(true);
    expect(publishCalls() - before).toBe(1);
    expect(fake.messages(topic)).toEqual([]);
  });

  it('retries a transient UNAVAILABLE inside the client: the messages go out once', async () => {
    const before = publishCalls();
    fake.failNext('Publish', 'UNAVAILABLE');
    await new PubSubRotationQueue({ topic }).enqueue(links('a', 'b'));
    expect(publishCalls() - before).toBe(2);
    expect(fake.messages(topic).map((m) => m.attributes.link)).toEqual(['a', 'b']);
  });

  it('turns UNAVAILABLE that outlasts the publish budget into a retryable unavailable error', async () => {
    // The client retries Publish by its wall clock, for PUBLISH_TIMEOUT_MS (shorter than its own
    // default of 60 s): only Date is faked (timers, hence gRPC and the backoff sleeps, stay real),
    // and jumps just past the budget after the first attempt.
    vi.useFakeTimers({ toFake: ['Date'] });
    for (let i = 0; i < 20; i++) fake.failNext('Publish', 'UNAVAILABLE');
    const before = publishCalls();
    const result = new PubSubRotationQueue({ topic }).enqueue(links('a')).catch((e: unknown) => e);
    await vi.waitFor(() => expect(publishCalls()).toBeGreaterThan(before), { timeout: 5000 });
    vi.setSystemTime(Date.now() + PUBLISH_TIMEOUT_MS + 1000);
    const err = await result;
    expect(isMeshlinkError(err, 'unavailable')).toBe(true);
    expect(err).toMatchObject({ retryable: true, message: expect.stringMatching(/Total timeout.*UNAVAILABLE/s) });
    expect(fake.messages(topic)).toEqual([]);
  });
});

describe('a sweep fanning out through Pub/Sub', () => {
  it('publishes exactly one message for the one due link, which the worker decodes and rotates', async () => {
    const app = testApp();
    await applyLink(app.deps, specInput({}, 'mysql'));
    app.clock.advance(20 * DAY); // mysql's leaves are near expiry; pg, created now, is not due
    await applyLink(app.deps, withField(specInput({}, 'pg'), 'server.gatewayPort', 20001));
    const report = await sweep(app.deps, new PubSubRotationQueue({ topic }));
    expect(report).toMatchObject({ listed: 2, due: [{ link: 'mysql' }], errors: [] });

    const messages = fake.messages(topic);
    expect(messages.map((m) => m.attributes)).toEqual([{ link: 'mysql', dedupKey: report.due[0]!.dedupKey }]);
    const [message] = messages as [PublishedMessage];

    // As functions-framework hands it to meshlinkRotateLink: base64 data in a messagePublished event.
    const event = { type: PUBSUB_MESSAGE_PUBLISHED, data: { message: { data: message.data.toString('base64'), attributes: message.attributes, messageId: message.messageId } } };
    expect(decodeRotationMessage(event)).toEqual({ link: 'mysql', reason: report.due[0]!.reason, messageId: message.messageId });
    expect(await handleRotateLinkEvent(app.deps, event)).toMatchObject({ link: 'mysql', outcome: 'rotated' });
  });
});
