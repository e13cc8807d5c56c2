// A wire-level fake of the Pub/Sub v1 Publisher: a real gRPC server on loopback, built from the
// .proto files @google-cloud/pubsub ships, so the rotation queue is tested through the real client
// (batching, retries, wire format). Point the client at it with PUBSUB_EMULATOR_HOST.
// Implemented: Publish (topic name syntax, NOT_FOUND for a topic not added, at least one message,
// message ids in request order, messages stored with data and attributes); topics are added by
// the test (addTopic), not by CreateTopic. Not implemented: every other Publisher method
// (UNIMPLEMENTED; the client's publish path calls none), the Subscriber service (no delivery or
// acks), the per-message rules (empty message, attribute count and sizes, `goog` keys), size
// limits, schemas, ordering keys beyond storing them, IAM (any caller may publish anywhere).
import * as grpc from '@grpc/grpc-js';
import { fail, loadService, startGrpcFake, type GrpcFake, type Request } from './grpc-fake.js';

export interface PublishedMessage {
  messageId: string;
  data: Buffer;
  attributes: Record<string, string>;
  orderingKey: string;
}

export interface FakePubSub extends GrpcFake {
  /** `127.0.0.1:PORT`, the value for PUBSUB_EMULATOR_HOST. */
  host: string;
  /** Creates a topic without a call, as CreateTopic would; returns its full name. */
  addTopic(project: string, id: string): string;
  /** Messages published to a topic (full name), in the order they were accepted. */
  messages(topic: string): PublishedMessage[];
}

const SERVICE = 'google.pubsub.v1.Publisher';

// The topic id rule CreateTopic applies (https://cloud.google.com/pubsub/docs/create-topic).
const TOPIC_NAME = /^projects\/([^/]+)\/topics\/([^/]+)$/;
const TOPIC_ID = /^(?!goog)[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;

export async function startFakePubSub(): Promise<FakePubSub> {
  const topics = new Map<string, PublishedMessage[]>();
  let nextId = 1;

  const server = await startGrpcFake(loadService('@google-cloud/pubsub', 'google/pubsub/v1/pubsub.proto', SERVICE), {
    Publish(req) {
      const name: string = req.topic ?? '';
      const parts = TOPIC_NAME.exec(name);
      if (!parts || !TOPIC_ID.test(parts[2]!)) throw fail(grpc.status.INVALID_ARGUMENT, `Invalid [topics] name: (name=${name})`);
      const stored = topics.get(name);
      if (!stored) throw fail(grpc.status.NOT_FOUND, `Resource not found (resource=${parts[2]}).`);
      const messages: Request[] = req.messages ?? [];
      if (messages.length === 0) throw fail(grpc.status.INVALID_ARGUMENT, 'The publish request must contain at least one message.');
      const accepted = messages.map((m) => ({
        messageId: String(nextId++),
        data: Buffer.from(m.data ?? Buffer.alloc(0)),
        attributes: { ...(m.attributes ?? {}) },
        orderingKey: m.orderingKey ?? '',
      }));
      stored.push(...accepted);
      return { messageIds: accepted.map((m) => m.messageId) };
    },
  });

  return {
    ...server,
    host: `127.0.0.1:${server.port}`,
    addTopic(project, id) {
      const name = `projects/${project}/topics/${id}`;
      if (!TOPIC_ID.test(id)) throw new Error(`invalid topic id ${id}`);
      if (topics.has(name)) throw new Error(`topic ${name} already exists`);
      topics.set(name, []);
      return name;
    },
    messages(topic) {
      return [...(topics.get(topic) ?? [])];
    },
  };
}
