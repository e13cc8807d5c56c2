// Decoding registration messages: audit-log entries in their real format and meshlink's own event.
// Fixture sources (test/fixtures/registration/README.md):
// - GKE entries: GoogleCloudPlatform/khi test/logs/gke_audit/cluster_creation_{started,finished,
//   started_with_error}.yaml and cluster_deletion_{started,finished}.yaml (real, redacted entries);
//   https://cloud.google.com/kubernetes-engine/docs/how-to/audit-logging-container
// - Fleet entries: https://cloud.google.com/kubernetes-engine/fleet-management/docs/connect-agent/audit-logging-gkehub
//   and googleapis google/cloud/gkehub/v1/{service,membership}.proto (CreateMembershipRequest);
//   v1beta1 service name from google/cloud/gkehub/v1beta1/membership.proto
// - Sink -> Pub/Sub message: https://cloud.google.com/logging/docs/export/pubsub
// - messagePublished CloudEvent data: googleapis/google-cloudevents proto/google/events/cloud/pubsub/v1/data.proto
import { describe, expect, it } from 'vitest';
import { decodeRegistrationMessage, type RegistrationEvent } from '../../shared/registration/events.js';
import { isIgnored, messageFromCloudEvent } from '../../shared/queue/pubsub-message.js';
import { clusterKey, matchCluster } from '../../shared/registration/aliases.js';
import { fixture, messagePublishedData, pubsubMessage, pushBody, type Fixture } from '../support/registration.js';

const EDGE = 'projects/meshlink-demo/locations/europe-west1-b/clusters/edge-eu';
const DB_MEMBERSHIP = 'projects/meshlink-demo/locations/global/memberships/db-east';
const DB_CLUSTER = 'projects/meshlink-demo/locations/us-east1/clusters/db-east';

function decode(doc: unknown): ReturnType<typeof decodeRegistrationMessage> {
  return decodeRegistrationMessage(pubsubMessage(doc));
}

function event(doc: unknown): RegistrationEvent {
  const decoded = decode(doc);
  if (isIgnored(decoded)) throw new Error(`ignored: ${decoded.ignore}`);
  return decoded;
}

describe('audit-log entries', () => {
  it.each<[string, Fixture, Partial<RegistrationEvent>]>([
    ['GKE cluster created (last entry)', 'gke-create-cluster-last', { kind: 'registered', source: 'gke-audit', aliases: [EDGE], operationId: 'operation-1763892000114-d3db4945-ad7b-4fff-aff7-55a867e4bc54' }],
    ['GKE cluster deleted (last entry)', 'gke-delete-cluster-last', { kind: 'deregistered', source: 'gke-audit', aliases: [EDGE] }],
    ['fleet membership created (last entry)', 'fleet-create-membership-last', { kind: 'registered', source: 'fleet-audit', aliases: [DB_MEMBERSHIP] }],
    ['fleet membership updated (last entry)', 'fleet-update-membership-last', { kind: 'registered', source: 'fleet-audit', aliases: [DB_MEMBERSHIP] }],
    ['fleet membership deleted (last entry)', 'fleet-delete-membership-last', { kind: 'deregistered', source: 'fleet-audit', aliases: [DB_MEMBERSHIP] }],
  ])('%s', (_label, name, expected) => {
    expect(event(fixture(name))).toMatchObject(expected);
  });

  it.each<[string, Fixture, RegExp]>([
    ['GKE creation started: the cluster is not ready yet', 'gke-create-cluster-first', /started; acting on its last entry/],
    ['GKE deletion started', 'gke-delete-cluster-first', /started; acting on its last entry/],
    ['fleet membership creation started', 'fleet-create-membership-first', /started; acting on its last entry/],
    ['fleet membership deletion started', 'fleet-delete-membership-first', /started; acting on its last entry/],
    ['a synchronous failure (no operation)', 'gke-create-cluster-sync-error', /failed synchronously \(status 3\)/],
  ])('ignores %s', (_label, name, reason) => {
    const decoded = decode(fixture(name));
    expect(decoded).toEqual({ ignore: expect.stringMatching(reason) });
  });

  it('ignores a last entry whose operation failed', () => {
    const entry = fixture('gke-create-cluster-last');
    entry.protoPayload.status = { code: 13, message: 'Internal error' };
    expect(decode(entry)).toEqual({ ignore: expect.stringMatching(/failed \(status 13: Internal error\)/) });
  });

  it('acts on an entry that is both first and last', () => {
    const entry = fixture('gke-create-cluster-last');
    entry.operation.first = true;
    expect(event(entry).kind).toBe('registered');
  });

  it('takes the GKE cluster of a membership from the first entry\'s request (endpoint.gkeCluster.resourceLink)', () => {
    // The first entry is ignored, so only a last entry that carried the request would use this.
    const entry = fixture('fleet-create-membership-first');
    entry.operation.last = true;
    expect(event(entry).aliases).toEqual([DB_MEMBERSHIP, DB_CLUSTER]);
  });

  it.each([
    ['v1beta1 GKE API', 'gke-create-cluster-last', 'google.container.v1beta1.ClusterManager.CreateCluster', 'registered'],
    ['v1beta1 fleet API (GkeHubMembershipService)', 'fleet-create-membership-last', 'google.cloud.gkehub.v1beta1.GkeHubMembershipService.CreateMembership', 'registered'],
    ['v1beta fleet API', 'fleet-delete-membership-last', 'google.cloud.gkehub.v1beta.GkeHub.DeleteMembership', 'deregistered'],
  ] as const)('understands the %s', (_label, name, method, kind) => {
    const entry = fixture(name);
    entry.protoPayload.methodName = method;
    expect(event(entry).kind).toBe(kind);
  });

  it.each([
    ['a method the sink\'s substring match lets through', 'gkehub.googleapis.com', 'google.cloud.gkehub.v1.GkeHub.CreateMembershipBinding'],
    ['an RBAC role binding', 'gkehub.googleapis.com', 'google.cloud.gkehub.v1.GkeHub.CreateMembershipRBACRoleBinding'],
    ['a cluster update', 'container.googleapis.com', 'google.container.v1.ClusterManager.UpdateCluster'],
    ['a node pool creation', 'container.googleapis.com', 'google.container.v1.ClusterManager.CreateNodePool'],
    ['another service', 'compute.googleapis.com', 'v1.compute.instances.insert'],
  ])('ignores %s', (_label, service, method) => {
    const entry = fixture('fleet-create-membership-last');
    entry.protoPayload.serviceName = service;
    entry.protoPayload.methodName = method;
    expect(decode(entry)).toEqual({ ignore: `not a registration method: ${service} ${method}` });
  });

  it('spells the names both ways when the entry names its project by number', () => {
    const entry = fixture('fleet-delete-membership-last');
    entry.protoPayload.resourceName = 'projects/123456789012/locations/global/memberships/db-east';
    expect(event(entry).aliases).toEqual(['projects/123456789012/locations/global/memberships/db-east', DB_MEMBERSHIP]);
  });

  it('reads a zonal resourceName (zones/) as the same cluster as the labels (locations/)', () => {
    const entry = fixture('gke-create-cluster-last');
    delete entry.resource;
    expect(event(entry).aliases).toEqual([EDGE]);
  });

  it.each<[string, (e: any) => void, RegExp]>([
    ['no protoPayload.methodName', (e) => delete e.protoPayload.methodName, /without protoPayload.serviceName or methodName/],
    ['a protoPayload that is not an AuditLog', (e) => (e.protoPayload['@type'] = 'type.googleapis.com/google.cloud.bigquery.logging.v1.AuditData'), /not an AuditLog/],
    ['no resource name at all', (e) => {
      delete e.protoPayload.resourceName;
      delete e.resource;
    }, /names no cluster/],
  ])('ignores an entry with %s', (_label, change, reason) => {
    const entry = fixture('gke-create-cluster-last');
    change(entry);
    expect(decode(entry)).toEqual({ ignore: expect.stringMatching(reason) });
  });
});

describe("meshlink's own event", () => {
  it.each([
    ['registered', 'client-cluster'],
    ['deregistered', DB_MEMBERSHIP],
    ['registered', 'kubeconfig:kind-edge'],
  ] as const)('%s %s', (kind, cluster) => {
    expect(event({ cluster, event: kind })).toEqual({ kind, aliases: [cluster], source: 'meshlink' });
  });

  it.each([
    ['no cluster', { event: 'registered' }, /without a cluster reference/],
    ['an empty cluster', { cluster: ' ', event: 'registered' }, /without a cluster reference/],
    ['no event', { cluster: 'edge' }, /must be "registered" or "deregistered"/],
    ['an unknown event', { cluster: 'edge', event: 'created' }, /must be "registered" or "deregistered"/],
    ['a malformed cloud reference', { cluster: 'projects/p/clusters/c', event: 'registered' }, /must be projects\/P/],
  ])('ignores an event with %s', (_label, doc, reason) => {
    expect(decode(doc)).toEqual({ ignore: expect.stringMatching(reason) });
  });
});

describe('malformed and empty messages', () => {
  it.each([
    ['no data (a TOPIC_CONFIGURED test message)', { attributes: { eventType: 'TOPIC_CONFIGURED' } }, 'empty message (eventType TOPIC_CONFIGURED)'],
    ['empty data', { data: '' }, 'empty message'],
    ['data that is not base64', { data: 'not base64!' }, 'message data is not base64'],
    ['base64 of text that is not JSON', { data: Buffer.from('cluster=edge').toString('base64') }, 'message data is not JSON'],
    ['base64 of bytes that are not UTF-8', { data: Buffer.from([0xff, 0xfe, 0x7b]).toString('base64') }, 'message data is not JSON'],
    ['a JSON array', { data: Buffer.from('[1,2]').toString('base64') }, 'message data is not a JSON object'],
    ['a JSON object of another kind', { data: Buffer.from('{"trigger":"schedule"}').toString('base64') }, 'neither a Cloud Audit Log entry nor a meshlink registration event'],
  ])('ignores %s, saying why', (_label, message, reason) => {
    expect(decodeRegistrationMessage(message)).toEqual({ ignore: reason });
  });
});

describe('messageFromCloudEvent', () => {
  const message = pubsubMessage({ cluster: 'edge', event: 'registered' }, 'm-1');

  it.each([
    ['a messagePublished event', { type: 'google.cloud.pubsub.topic.v1.messagePublished', data: messagePublishedData(message) }],
    ['a binary-mode event whose data is still text', { type: 'google.cloud.pubsub.topic.v1.messagePublished', data: JSON.stringify(messagePublishedData(message)) }],
    ['a push body functions-framework did not convert', pushBody(message)],
  ])('finds the message in %s', (_label, ce) => {
    expect(messageFromCloudEvent(ce)).toMatchObject({ data: message.data });
  });

  it.each([
    ['another event type', { type: 'google.cloud.storage.object.v1.finalized', data: {} }, /unexpected CloudEvent type/],
    ['no message', { type: 'google.cloud.pubsub.topic.v1.messagePublished', data: {} }, /no data.message/],
    ['data that is not JSON', { type: 'google.cloud.pubsub.topic.v1.messagePublished', data: '{' }, /not JSON/],
    ['not an object', 'hello', /not a JSON object/],
  ])('ignores %s', (_label, ce, reason) => {
    expect(messageFromCloudEvent(ce)).toEqual({ ignore: expect.stringMatching(reason) });
  });
});

describe('matching links to aliases', () => {
  it.each([
    ['the same GKE cluster', EDGE, [EDGE], 'exact', 'exact'],
    ['a zonal spelling of it', 'projects/meshlink-demo/zones/europe-west1-b/clusters/edge-eu', [EDGE], 'exact', 'exact'],
    ['a gkeMemberships spelling of a membership', 'projects/meshlink-demo/locations/global/gkeMemberships/db-east', [DB_MEMBERSHIP], 'exact', 'exact'],
    ['a GKE cluster named like the registered membership', DB_CLUSTER, [DB_MEMBERSHIP], 'related', 'related'],
    ['... but not in exact mode', DB_CLUSTER, [DB_MEMBERSHIP], 'exact', undefined],
    ['a membership named like the created cluster', 'projects/meshlink-demo/locations/global/memberships/edge-eu', [EDGE], 'related', 'related'],
    ['a same-named cluster in another project', 'projects/other/locations/us-east1/clusters/db-east', [DB_MEMBERSHIP], 'related', undefined],
    ['another cluster', 'projects/meshlink-demo/locations/europe-west1-b/clusters/edge-us', [EDGE], 'related', undefined],
    ['a project number against an id', 'projects/123456789012/locations/europe-west1-b/clusters/edge-eu', [EDGE], 'related', undefined],
    ['a local name', 'client-cluster', ['client-cluster'], 'exact', 'exact'],
    ['a local name against a cloud name', 'edge-eu', [EDGE], 'related', undefined],
  ] as const)('%s', (_label, ref, aliases, mode, expected) => {
    expect(matchCluster(ref, aliases, mode)).toBe(expected);
  });

  it('gives one key per resource', () => {
    expect(clusterKey('projects/p/zones/z/clusters/c')).toBe(clusterKey('projects/p/locations/z/clusters/c'));
    expect(clusterKey('projects/p/clusters/c')).toBeUndefined();
  });
});
