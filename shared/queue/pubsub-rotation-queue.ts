// The Pub/Sub adapter of the RotationQueue port: one message per due link on the rotation topic,
// delivered to meshlinkRotateLink, which decodes it here too. The only file that imports @google-cloud/pubsub, lazily, so a
// cold start of any other function does not load it.
import { MeshlinkError, type ErrorCode } from '../errors.js';
import { isLinkName } from '../link/spec.js';
import type { DueLink, RotationMessage, RotationQueue } from './port.js';
import { isIgnored, messageFromCloudEvent, messageJson, type Ignored } from './pubsub-message.js';

/** What the adapter needs of a topic: plain data in, message id out (no SDK types cross). */
export interface PublishTopic {
  publishMessage(message: { data: Buffer; attributes: Record<string, string> }): Promise<string>;
}

/** Attribute names on each message: the link (for filtering and logs) and a key to spot duplicates. */
export const ATTRIBUTE_LINK = 'link';
export const ATTRIBUTE_DEDUP_KEY = 'dedupKey';

/** How long one publish may take, the client's retries included. */
export const PUBLISH_TIMEOUT_MS = 30_000;

const TOPIC = /^projects\/([^/]+)\/topics\/[^/]+$/;

async function sdkTopic(topic: string): Promise<PublishTopic> {
  const { PubSub } = await import('@google-cloud/pubsub');
  const projectId = TOPIC.exec(topic)?.[1];
  // Batching: a sweep publishes a page of links at once; flush quickly so the function can end.
  // gaxOpts.timeout bounds the client's own retries (by default, each publish's 60 s): an outage
  // fails the sweep early with a retryable error, which the next sweep or redelivery takes up,
  // rather than the sweep spending its run waiting on one page.
  return new PubSub(projectId ? { projectId } : {}).topic(topic, { batching: { maxMessages: 100, maxMilliseconds: 20 }, gaxOpts: { timeout: PUBLISH_TIMEOUT_MS } });
}

const CODE_OF_STATUS: Partial<Record<number, ErrorCode>> = { 3: 'invalid-argument', 5: 'not-found', 7: 'permission-denied', 16: 'permission-denied' };

function translate(err: unknown, topic: string): MeshlinkError {
  const status = (err as { code?: unknown } | null)?.code;
  const code = (typeof status === 'number' && CODE_OF_STATUS[status]) || 'unavailable';
  return new MeshlinkError(code, `Pub/Sub: publish to ${topic} failed: ${(err as Error | null)?.message ?? String(err)}`, { cause: err });
}

export function encodeRotationMessage(due: DueLink): { data: Buffer; attributes: Record<string, string> } {
  const body: RotationMessage = { link: due.link, reason: due.reason };
  return {
    data: Buffer.from(JSON.stringify(body)),
    attributes: { [ATTRIBUTE_LINK]: due.link, [ATTRIBUTE_DEDUP_KEY]: due.dedupKey ?? due.link },
  };
}

/** A rotation message from a Pub/Sub messagePublished CloudEvent, or why it is unusable. */
export function decodeRotationMessage(event: unknown): (RotationMessage & { messageId?: string }) | Ignored {
  const message = messageFromCloudEvent(event);
  if (isIgnored(message)) return message;
  const body = messageJson(message);
  if (isIgnored(body)) return body;
  if (!isLinkName(body.link)) return { ignore: 'message has no valid link name' };
  return {
    link: body.link,
    reason: typeof body.reason === 'string' ? body.reason : 'unspecified',
    ...(message.messageId ? { messageId: message.messageId } : {}),
  };
}

export class PubSubRotationQueue implements RotationQueue {
  private topicHandle: Promise<PublishTopic> | undefined;

  constructor(private readonly options: { topic: string; makeTopic?: (topic: string) => Promise<PublishTopic> }) {
    if (!TOPIC.test(options.topic)) throw new MeshlinkError('invalid-argument', `rotation topic must be projects/PROJECT/topics/TOPIC, got ${options.topic}`);
  }

  private topic(): Promise<PublishTopic> {
    if (!this.topicHandle) {
      this.topicHandle = (this.options.makeTopic ?? sdkTopic)(this.options.topic);
      this.topicHandle.catch(() => (this.topicHandle = undefined));
    }
    return this.topicHandle;
  }

  /** Publishes every message; throws (retryable unless the topic is missing or forbidden) if any failed. */
  async enqueue(links: DueLink[]): Promise<void> {
    if (links.length === 0) return;
    const topic = await this.topic();
    const results = await Promise.allSettled(links.map((due) => topic.publishMessage(encodeRotationMessage(due))));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    // Messages that went out stay out: a retried sweep sends them again, and the worker re-decides.
    if (failed) throw translate(failed.reason, this.options.topic);
  }
}
