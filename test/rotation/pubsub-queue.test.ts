// The Pub/Sub adapter of the rotation queue, behind an injected topic (no network here): what
// each message carries, how publish failures become port errors, and which adapter the
// composition root picks.
import { describe, expect, it } from 'vitest';
import { InProcessRotationQueue } from '../../shared/queue/in-process-rotation-queue.js';
import { makeRotationQueue } from '../../shared/compose.js';
import { parseConfig } from '../../shared/config.js';
import { isMeshlinkError } from '../../shared/errors.js';
import { PubSubRotationQueue, type PublishTopic } from '../../shared/queue/pubsub-rotation-queue.js';
import { testApp } from '../support/app.js';

const TOPIC = 'projects/meshlink-demo/topics/meshlink-rotation';

class FakeTopic implements PublishTopic {
  readonly published: { data: Buffer; attributes: Record<string, string> }[] = [];
  constructor(private readonly fail?: (link: string) => unknown) {}
  async publishMessage(message: { data: Buffer; attributes: Record<string, string> }): Promise<string> {
    const error = this.fail?.(message.attributes.link!);
    if (error) throw error;
    this.published.push(message);
    return String(this.published.length);
  }
}

describe('PubSubRotationQueue', () => {
  it('publishes one message per link: base64 JSON {link, reason}, attributes link and dedupKey', async () => {
    const topic = new FakeTopic();
    const names: string[] = [];
    const queue = new PubSubRotationQueue({ topic: TOPIC, makeTopic: async (name) => (names.push(name), topic) });
    await queue.enqueue([
      { link: 'mysql', reason: 'NearingExpiry', dedupKey: 'mysql@2026-11-23T10:00:00.000Z' },
      { link: 'pg', reason: 'Forced' },
    ]);
    await queue.enqueue([]);
    expect(names).toEqual([TOPIC]); // the topic is made once, on first use
    expect(topic.published.map((m) => [JSON.parse(m.data.toString()), m.attributes])).toEqual([
      [{ link: 'mysql', reason: 'NearingExpiry' }, { link: 'mysql', dedupKey: 'mysql@2026-11-23T10:00:00.000Z' }],
      [{ link: 'pg', reason: 'Forced' }, { link: 'pg', dedupKey: 'pg' }],
    ]);
  });

  it.each([
    ['a transient failure', { code: 14, message: 'UNAVAILABLE' }, 'unavailable'],
    ['a missing topic', { code: 5, message: 'NOT_FOUND: topic' }, 'not-found'],
    ['a refused publisher', { code: 7, message: 'PERMISSION_DENIED' }, 'permission-denied'],
    ['an error without a code', new Error('socket hang up'), 'unavailable'],
  ])('turns %s into a %s error after publishing the rest', async (_name, error, code) => {
    const topic = new FakeTopic((link) => (link === 'b' ? error : undefined));
    const queue = new PubSubRotationQueue({ topic: TOPIC, makeTopic: async () => topic });
    const err = await queue.enqueue(['a', 'b', 'c'].map((link) => ({ link, reason: 'x' }))).catch((e: unknown) => e);
    expect(isMeshlinkError(err, code as 'unavailable')).toBe(true);
    expect(topic.published.map((m) => m.attributes.link)).toEqual(['a', 'c']);
  });

  it('refuses a topic that is not a full topic name', () => {
    expect(() => new PubSubRotationQueue({ topic: 'meshlink-rotation' })).toThrow(/projects\/PROJECT\/topics\/TOPIC/);
  });
});

describe('makeRotationQueue', () => {
  it('fans out through Pub/Sub when MESHLINK_ROTATION_TOPIC is set, in-process otherwise', async () => {
    const { deps } = testApp();
    expect(await makeRotationQueue(parseConfig({ MESHLINK_ROTATION_TOPIC: TOPIC }), deps)).toBeInstanceOf(PubSubRotationQueue);
    expect(await makeRotationQueue(parseConfig({}), deps)).toBeInstanceOf(InProcessRotationQueue);
  });
});
