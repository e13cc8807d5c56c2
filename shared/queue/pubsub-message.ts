// Pub/Sub messages as the event functions receive them (a messagePublished CloudEvent, or a push
// body the framework left as it was), for both consumers: cluster registration and the rotation
// worker. Pure: anything unusable becomes `{ ignore: reason }`, never an exception.

export interface Ignored {
  ignore: string;
}

/** A Pub/Sub message as a CloudEvent or a push body carries it: `data` is base64. */
export interface PubSubMessage {
  data?: string;
  attributes?: Record<string, string>;
  messageId?: string;
  publishTime?: string;
}

export const PUBSUB_MESSAGE_PUBLISHED = 'google.cloud.pubsub.topic.v1.messagePublished';
/** Padded standard base64, what Pub/Sub's JSON uses (Buffer.from would skip bad characters). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export type Json = Record<string, unknown>;

/** The value as a JSON object, or undefined (null and arrays included). */
export function object(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

/** The value as a non-empty string, or undefined. */
export function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function isIgnored<T extends object>(v: T | Ignored): v is Ignored {
  return 'ignore' in v;
}

/**
 * The Pub/Sub message inside a CloudEvent: `data.message` of a messagePublished event (also after
 * functions-framework converted a push body sent to `/projects/P/topics/T`), or the top-level
 * `message` of a push body the framework left alone (it converts only bodies whose message has
 * data, so an empty message arrives as it was pushed).
 */
export function messageFromCloudEvent(event: unknown): PubSubMessage | Ignored {
  const ce = object(event);
  if (!ce) return { ignore: 'the event is not a JSON object' };
  const type = ce.type;
  if (type !== undefined && type !== PUBSUB_MESSAGE_PUBLISHED) return { ignore: `unexpected CloudEvent type ${String(type)}` };
  let data: unknown = ce.data;
  if (typeof data === 'string' || data instanceof Uint8Array) {
    try {
      data = JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
    } catch {
      return { ignore: 'the CloudEvent data is not JSON' };
    }
  }
  const message = object(object(data)?.message) ?? (type === undefined ? object(ce.message) : undefined);
  if (!message) return { ignore: 'not a Pub/Sub messagePublished event: no data.message' };
  const attributes = object(message.attributes);
  return {
    ...(typeof message.data === 'string' ? { data: message.data } : {}),
    ...(attributes ? { attributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, String(v)])) } : {}),
    ...(text(message.messageId) ? { messageId: message.messageId as string } : {}),
    ...(text(message.publishTime) ? { publishTime: message.publishTime as string } : {}),
  };
}

/** A message's data as the JSON object it carries (base64 JSON, strictly decoded). */
export function messageJson(message: PubSubMessage): Record<string, unknown> | Ignored {
  const data = message.data?.replace(/\s+/g, '') ?? '';
  if (data === '') {
    // Test messages (Secret Manager's TOPIC_CONFIGURED, a console "publish") carry no data.
    const eventType = message.attributes?.eventType;
    return { ignore: `empty message${eventType ? ` (eventType ${eventType})` : ''}` };
  }
  if (!BASE64.test(data)) return { ignore: 'message data is not base64' };
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(data, 'base64')));
  } catch {
    return { ignore: 'message data is not JSON' };
  }
  return object(body) ?? { ignore: 'message data is not a JSON object' };
}

