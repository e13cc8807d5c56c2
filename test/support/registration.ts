// Builders for registration messages: fixtures as Pub/Sub messages, CloudEvents (binary and
// structured mode) and push bodies, the way Pub/Sub, Eventarc and a push subscription deliver them.
import { readFileSync } from 'node:fs';
import { PUBSUB_MESSAGE_PUBLISHED, type PubSubMessage } from '../../shared/queue/pubsub-message.js';

const FIXTURES = new URL('../fixtures/registration/', import.meta.url);

export type Fixture =
  | 'gke-create-cluster-first'
  | 'gke-create-cluster-last'
  | 'gke-create-cluster-sync-error'
  | 'gke-delete-cluster-first'
  | 'gke-delete-cluster-last'
  | 'fleet-create-membership-first'
  | 'fleet-create-membership-last'
  | 'fleet-update-membership-last'
  | 'fleet-delete-membership-first'
  | 'fleet-delete-membership-last';

/** A fixture as a mutable object (a fresh copy each call). */
export function fixture(name: Fixture): any {
  return JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8'));
}

let counter = 0;

/** A document as the data of a Pub/Sub message (what a log sink publishes for one entry). */
export function pubsubMessage(doc: unknown, messageId = `msg-${++counter}`): Required<Pick<PubSubMessage, 'data' | 'messageId'>> & PubSubMessage {
  return {
    data: Buffer.from(JSON.stringify(doc)).toString('base64'),
    attributes: { 'logging.googleapis.com/timestamp': '2026-11-23T10:06:41.093Z' },
    messageId,
    publishTime: '2026-11-23T10:06:44.512Z',
  };
}

/** The data of a messagePublished CloudEvent. */
export function messagePublishedData(message: PubSubMessage) {
  return { message, subscription: 'projects/meshlink-demo/subscriptions/eventarc-europe-west1-meshlink-cluster-registration-000' };
}

/** Binary content mode: the context in ce-* headers, the data as the body. */
export function binaryCloudEvent(message: PubSubMessage, id = message.messageId ?? 'id-1') {
  return {
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-type': PUBSUB_MESSAGE_PUBLISHED,
      'ce-source': '//pubsub.googleapis.com/projects/meshlink-demo/topics/meshlink-cluster-registration',
      'ce-id': id,
      'ce-time': '2026-11-23T10:06:44.512Z',
    },
    body: JSON.stringify(messagePublishedData(message)),
  };
}

/** Structured content mode: the whole event as `application/cloudevents+json`. */
export function structuredCloudEvent(message: PubSubMessage, id = message.messageId ?? 'id-1') {
  return {
    headers: { 'content-type': 'application/cloudevents+json' },
    body: JSON.stringify({
      specversion: '1.0',
      type: PUBSUB_MESSAGE_PUBLISHED,
      source: '//pubsub.googleapis.com/projects/meshlink-demo/topics/meshlink-cluster-registration',
      id,
      time: '2026-11-23T10:06:44.512Z',
      datacontenttype: 'application/json',
      data: messagePublishedData(message),
    }),
  };
}

/** A push subscription's body (fixture envelope, this message's data). */
export function pushBody(message: PubSubMessage) {
  const body = JSON.parse(readFileSync(new URL('pubsub-push-body.json', FIXTURES), 'utf8'));
  if (message.data === undefined) delete body.message.data;
  else body.message.data = message.data;
  return body;
}
