// Registration and deregistration end to end through the handler (CloudEvent in, store and
// clusters out): new and rebuilt clusters come back with the same credentials, redelivery has one
// effect, transient failures are retried, deregistration deletes nothing.
// Fixture sources: see test/registration/events.test.ts and test/fixtures/registration/README.md.
import { describe, expect, it } from 'vitest';
import { handleRegistrationEvent, type RegistrationOutcome } from '../../functions/registration.js';
import { applyLink } from '../../shared/app/provision.js';
import { getLink } from '../../shared/app/queries.js';
import { loadLink, withLease } from '../../shared/app/link-record.js';
import { MeshlinkError } from '../../shared/errors.js';
import { credentialName, objectNames, storeLabels } from '../../shared/link/names.js';
import { encodeState } from '../../shared/link/state.js';
import { PUBSUB_MESSAGE_PUBLISHED } from '../../shared/queue/pubsub-message.js';
import { specInput } from '../support/builders.js';
import { storeWrites, testApp, type TestApp } from '../support/app.js';
import { unavailable } from '../support/memory-clusters.js';
import { fixture, messagePublishedData, pubsubMessage, type Fixture } from '../support/registration.js';

const EDGE = 'projects/meshlink-demo/locations/europe-west1-b/clusters/edge-eu';
const DB_MEMBERSHIP = 'projects/meshlink-demo/locations/global/memberships/db-east';
const DB_CLUSTER = 'projects/meshlink-demo/locations/us-east1/clusters/db-east';

/** The link the fixtures are about: client on the GKE cluster edge-eu, server on the fleet membership db-east. */
function mysql(overrides: { client?: string; server?: string } = {}, name = 'mysql') {
  const base = specInput({}, name);
  return { ...base, client: { ...base.client, cluster: overrides.client ?? EDGE }, server: { ...base.server, cluster: overrides.server ?? DB_MEMBERSHIP } };
}

function cloudEvent(doc: unknown, messageId?: string) {
  return { specversion: '1.0', type: PUBSUB_MESSAGE_PUBLISHED, id: messageId ?? 'e-1', source: '//pubsub.googleapis.com/projects/meshlink-demo/topics/t', data: messagePublishedData(pubsubMessage(doc, messageId)) };
}

function deliver(app: TestApp, doc: unknown, messageId?: string): Promise<RegistrationOutcome> {
  return handleRegistrationEvent(app.deps, cloudEvent(doc, messageId));
}

const own = <E extends 'registered' | 'deregistered'>(cluster: string, event: E) => ({ cluster, event });

function versionsWritten(app: TestApp): number {
  const c = app.store.calls;
  return c.createSecret + c.addVersion + c.deleteSecret + c.disableVersion + c.destroyVersion;
}

async function syncStatus(app: TestApp, link = 'mysql') {
  const status = await getLink(app.deps, link);
  return { client: status.client.sync.status, server: status.server.sync.status };
}

function clientSecret(app: TestApp, link = 'mysql') {
  return app.clusters.target(EDGE).get('Secret', 'istio-system', credentialName(link, 'client'));
}

describe('registration', () => {
  it.each<[string, Fixture | { cluster: string; event: 'registered' }, string]>([
    ['a GKE CreateCluster last entry', 'gke-create-cluster-last', EDGE],
    ["meshlink's own event", own(EDGE, 'registered'), EDGE],
    ['a fleet CreateMembership last entry', 'fleet-create-membership-last', DB_MEMBERSHIP],
    ['a fleet UpdateMembership last entry', 'fleet-update-membership-last', DB_MEMBERSHIP],
  ])('brings a link that waited for its cluster into it on %s', async (_label, doc, cluster) => {
    const app = testApp();
    app.clusters.target(cluster).failure = unavailable(cluster);
    await applyLink(app.deps, mysql());
    const side = cluster === EDGE ? 'client' : 'server';
    expect((await syncStatus(app))[side]).toBe('waiting-for-cluster');

    app.clusters.target(cluster).failure = undefined;
    const outcome = await deliver(app, typeof doc === 'string' ? fixture(doc) : doc);

    expect(outcome).toMatchObject({ outcome: 'handled', event: 'registered', links: ['mysql'], done: ['mysql'] });
    expect(await syncStatus(app)).toEqual({ client: 'synced', server: 'synced' });
    const target = app.clusters.target(cluster);
    expect(target.get('Secret', 'istio-system', credentialName('mysql', side))).toBeDefined();
    expect(target.services.get(side === 'server' ? 'istio-system/istio-ingressgateway' : 'istio-system/istio-egressgateway')?.ports.length).toBe(1);
  });

  it.each<[string, Fixture]>([
    ['the first entry of a GKE creation', 'gke-create-cluster-first'],
    ['the first entry of a membership creation', 'fleet-create-membership-first'],
    ['a synchronous failure', 'gke-create-cluster-sync-error'],
  ])('does nothing on %s: the cluster is not there yet', async (_label, name) => {
    const app = testApp();
    app.clusters.target(EDGE).failure = unavailable(EDGE);
    app.clusters.target(DB_MEMBERSHIP).failure = unavailable(DB_MEMBERSHIP);
    await applyLink(app.deps, mysql());
    app.clusters.target(EDGE).failure = undefined;
    app.clusters.target(DB_MEMBERSHIP).failure = undefined;
    const before = { store: storeWrites(app.store), clusters: app.clusters.totalWrites };

    const outcome = await deliver(app, fixture(name));

    expect(outcome).toMatchObject({ outcome: 'ignored', reason: expect.any(String) });
    expect({ store: storeWrites(app.store), clusters: app.clusters.totalWrites }).toEqual(before);
    expect(app.log.lines).toContainEqual(expect.objectContaining({ message: 'registration message ignored', reason: (outcome as { reason: string }).reason }));
  });

  it('reconciles a link that names the GKE cluster behind a registered membership of the same name', async () => {
    const app = testApp();
    app.clusters.target(DB_CLUSTER).failure = unavailable(DB_CLUSTER);
    await applyLink(app.deps, mysql({ server: DB_CLUSTER }));
    app.clusters.target(DB_CLUSTER).failure = undefined;

    const outcome = await deliver(app, fixture('fleet-create-membership-last'));

    expect(outcome).toMatchObject({ outcome: 'handled', links: ['mysql'], done: ['mysql'] });
    expect((await syncStatus(app)).server).toBe('synced');
  });

  it('touches only the links that name the cluster, reading no payload of the others', async () => {
    const app = testApp();
    await applyLink(app.deps, mysql());
    await applyLink(app.deps, { ...mysql({ client: 'projects/meshlink-demo/locations/us-west1/clusters/other' }, 'redis'), server: { ...mysql().server, gatewayPort: 16379 } });
    await applyLink(app.deps, { ...mysql({}, 'pg'), server: { ...mysql().server, gatewayPort: 15432 } });
    const accessBefore = app.store.calls.accessVersion;

    const outcome = await deliver(app, fixture('gke-create-cluster-last'));

    expect(outcome).toMatchObject({ links: ['mysql', 'pg'], done: ['mysql', 'pg'] });
    // mysql and pg: the client credential each (the spec is in the link's metadata); redis: nothing.
    expect(app.store.calls.accessVersion - accessBefore).toBe(2);
  });

  it('answers an event about a cluster no link names', async () => {
    const app = testApp();
    await applyLink(app.deps, mysql());
    const before = { store: storeWrites(app.store), clusters: app.clusters.totalWrites };
    const outcome = await deliver(app, own('projects/meshlink-demo/locations/asia-east1/clusters/nobody', 'registered'));
    expect(outcome).toMatchObject({ outcome: 'handled', links: [], done: [] });
    expect({ store: storeWrites(app.store), clusters: app.clusters.totalWrites }).toEqual(before);
  });

  it('skips a link whose spec and credentials are not stored yet (a record older code made first)', async () => {
    const app = testApp();
    const now = app.clock().toISOString();
    await app.store.createSecret('meshlink-half-link', { labels: storeLabels('half', 'link'), annotations: encodeState({
      host: 'half.link.example.com', clientCluster: EDGE, serverCluster: DB_MEMBERSHIP, gatewayPort: 13306, specVersion: '', specHash: '',
      cas: [], signingGeneration: 0, phase: 'stable', phaseSince: now, leaves: {},
      sync: { client: { status: 'pending' }, server: { status: 'pending' } }, createdAt: now, updatedAt: now,
    }) });
    const outcome = await deliver(app, own(EDGE, 'registered'));
    expect(outcome).toMatchObject({ outcome: 'handled', links: ['half'], skipped: ['half'], done: [] });
    expect(app.clusters.totalWrites).toBe(0);
  });

  it('records a permanent cluster failure in the status and acknowledges the message', async () => {
    const app = testApp();
    await applyLink(app.deps, mysql());
    app.clusters.target(EDGE).wipe();
    app.clusters.target(EDGE).failure = new MeshlinkError('permission-denied', 'meshlink may not write Secrets in istio-system');
    const outcome = await deliver(app, fixture('gke-create-cluster-last'));
    expect(outcome).toMatchObject({ outcome: 'handled', failed: ['mysql'], done: [] });
    const status = await getLink(app.deps, 'mysql');
    expect(status.client.sync).toMatchObject({ status: 'error', error: expect.stringMatching(/may not write Secrets/) });
  });
});

describe('a rebuilt cluster', () => {
  it('gets everything back with the same credentials: no re-mint, no new store version', async () => {
    const app = testApp();
    await applyLink(app.deps, mysql());
    const edge = app.clusters.target(EDGE);
    const secretBefore = structuredClone(clientSecret(app));
    const objectsBefore = [...edge.objects.keys()].sort();
    const servicesBefore = structuredClone([...edge.services.values()]);
    const statusBefore = await getLink(app.deps, 'mysql');
    const versionsBefore = versionsWritten(app);

    edge.wipe();
    expect(edge.objects.size).toBe(0);
    expect(edge.services.get('istio-system/istio-egressgateway')?.ports).toEqual([]);

    app.clock.advance(60_000);
    const outcome = await deliver(app, fixture('gke-create-cluster-last'));

    expect(outcome).toMatchObject({ outcome: 'handled', done: ['mysql'] });
    expect([...edge.objects.keys()].sort()).toEqual(objectsBefore);
    expect(clientSecret(app)).toEqual(secretBefore);
    expect([...edge.services.values()]).toEqual(servicesBefore);
    const statusAfter = await getLink(app.deps, 'mysql');
    expect(statusAfter.client.fingerprint).toBe(statusBefore.client.fingerprint);
    expect(statusAfter.ca).toEqual(statusBefore.ca);
    expect(statusAfter.client.sync.version).toBe(statusBefore.client.sync.version);
    expect(versionsWritten(app)).toBe(versionsBefore);
  });

  it('moves the client to the new ingress address of a rebuilt server cluster', async () => {
    const app = testApp();
    const db = app.clusters.target(DB_MEMBERSHIP);
    db.seedService('istio-system', 'istio-ingressgateway', [], '203.0.113.10');
    await applyLink(app.deps, mysql());
    const entry = () => app.clusters.target(EDGE).get('ServiceEntry', 'istio-system', objectNames('mysql').serviceEntry) as any;
    expect(entry().spec.endpoints[0].address).toBe('203.0.113.10');

    db.wipe();
    db.seedService('istio-system', 'istio-ingressgateway', [], '203.0.113.77');
    await deliver(app, fixture('fleet-create-membership-last'));

    expect(entry().spec.endpoints[0].address).toBe('203.0.113.77');
    expect((await getLink(app.deps, 'mysql')).server.address).toBe('203.0.113.77');
  });
});

describe('delivery semantics', () => {
  it('has one effect when the same message is delivered three times', async () => {
    const app = testApp();
    await applyLink(app.deps, mysql());
    app.clusters.target(EDGE).wipe();
    const entry = fixture('gke-create-cluster-last');

    const writes: number[] = [];
    const annotationWrites: number[] = [];
    const states: unknown[] = [];
    const versions = versionsWritten(app);
    for (let i = 0; i < 3; i++) {
      const before = app.clusters.totalWrites;
      const annotations = app.store.calls.updateAnnotations;
      expect(await deliver(app, entry, 'same-message')).toMatchObject({ outcome: 'handled', done: ['mysql'] });
      writes.push(app.clusters.totalWrites - before);
      annotationWrites.push(app.store.calls.updateAnnotations - annotations);
      const { updatedAt: _t, ...state } = (await loadLink(app.deps, 'mysql'))!.state;
      states.push(state);
    }

    expect(writes[0]).toBeGreaterThan(0);
    expect(writes.slice(1)).toEqual([0, 0]);
    // The store: no new version ever; a redelivery costs the lease only (take, release).
    expect(versionsWritten(app)).toBe(versions);
    expect(annotationWrites.slice(1)).toEqual([2, 2]);
    expect(states[1]).toEqual(states[0]);
    expect(states[2]).toEqual(states[0]);
  });

  it('throws when the cluster does not answer, so Pub/Sub redelivers; the redelivery completes it', async () => {
    const app = testApp();
    await applyLink(app.deps, mysql());
    const edge = app.clusters.target(EDGE);
    edge.wipe();
    edge.failure = unavailable(EDGE);

    await expect(deliver(app, fixture('gke-create-cluster-last'))).rejects.toMatchObject({ code: 'unavailable' });
    expect((await syncStatus(app)).client).toBe('waiting-for-cluster');
    expect((await loadLink(app.deps, 'mysql'))!.state.lease).toBeUndefined();

    edge.failure = undefined;
    expect(await deliver(app, fixture('gke-create-cluster-last'))).toMatchObject({ outcome: 'handled', done: ['mysql'] });
    expect((await syncStatus(app)).client).toBe('synced');
    expect(clientSecret(app)).toBeDefined();
  });

  it('asks for a redelivery when another worker holds the link, after handling the other links', async () => {
    const app = testApp();
    await applyLink(app.deps, mysql());
    await applyLink(app.deps, { ...mysql({}, 'pg'), server: { ...mysql().server, gatewayPort: 15432 } });
    app.clusters.target(EDGE).wipe();
    const other = { ...app.deps, workerId: 'rotation-worker' };

    await withLease(other, (await loadLink(app.deps, 'mysql'))!, async () => {
      await expect(deliver(app, fixture('gke-create-cluster-last'))).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/mysql/) });
    });
    expect(clientSecret(app, 'pg')).toBeDefined();
    expect(clientSecret(app, 'mysql')).toBeUndefined();

    expect(await deliver(app, fixture('gke-create-cluster-last'))).toMatchObject({ done: ['mysql', 'pg'] });
    expect(clientSecret(app, 'mysql')).toBeDefined();
  });

  it.each([
    ['data that is not base64', { data: '%%%' }],
    ['data that is not JSON', { data: Buffer.from('not json').toString('base64') }],
    ['an empty TOPIC_CONFIGURED message', { attributes: { eventType: 'TOPIC_CONFIGURED' } }],
    ['an unknown method', { data: pubsubMessage({ ...fixture('gke-create-cluster-last'), protoPayload: { ...fixture('gke-create-cluster-last').protoPayload, methodName: 'google.container.v1.ClusterManager.SetLabels' } }).data }],
  ])('acknowledges %s: logged with the reason, nothing written', async (_label, message) => {
    const app = testApp();
    await applyLink(app.deps, mysql());
    const before = { store: storeWrites(app.store), clusters: app.clusters.totalWrites };
    const outcome = await handleRegistrationEvent(app.deps, { type: PUBSUB_MESSAGE_PUBLISHED, data: { message } });
    expect(outcome).toMatchObject({ outcome: 'ignored' });
    expect(app.log.lines).toContainEqual(expect.objectContaining({ severity: 'INFO', message: 'registration message ignored', reason: (outcome as { reason: string }).reason }));
    expect({ store: storeWrites(app.store), clusters: app.clusters.totalWrites }).toEqual(before);
  });

  it('acknowledges a store failure that a retry cannot fix', async () => {
    const app = testApp();
    await applyLink(app.deps, mysql());
    app.deps.store = { ...app.deps.store, listSecrets: async () => Promise.reject(new MeshlinkError('permission-denied', 'secretmanager.secrets.list denied')) } as typeof app.deps.store;
    expect(await deliver(app, own(EDGE, 'registered'))).toEqual({ outcome: 'failed', reason: 'secretmanager.secrets.list denied', messageId: expect.any(String) });
  });
});

describe('deregistration', () => {
  it.each<[string, Fixture | { cluster: string; event: 'deregistered' }, 'client' | 'server']>([
    ['a GKE DeleteCluster last entry', 'gke-delete-cluster-last', 'client'],
    ['a fleet DeleteMembership last entry', 'fleet-delete-membership-last', 'server'],
    ["meshlink's own event", own(EDGE, 'deregistered'), 'client'],
  ])('marks the side detached on %s and deletes nothing', async (_label, doc, side) => {
    const app = testApp();
    await applyLink(app.deps, mysql());
    const objects = { client: [...app.clusters.target(EDGE).objects.keys()], server: [...app.clusters.target(DB_MEMBERSHIP).objects.keys()] };
    const before = { versions: versionsWritten(app), clusters: app.clusters.totalWrites };
    const fingerprint = (await getLink(app.deps, 'mysql')).client.fingerprint;

    const outcome = await deliver(app, typeof doc === 'string' ? fixture(doc) : doc);

    expect(outcome).toMatchObject({ outcome: 'handled', event: 'deregistered', links: ['mysql'], done: ['mysql'] });
    const status = await getLink(app.deps, 'mysql');
    expect(status[side].sync.status).toBe('detached');
    expect(status[side === 'client' ? 'server' : 'client'].sync.status).toBe('synced');
    expect(status.client.fingerprint).toBe(fingerprint);
    expect({ versions: versionsWritten(app), clusters: app.clusters.totalWrites }).toEqual(before);
    expect({ client: [...app.clusters.target(EDGE).objects.keys()], server: [...app.clusters.target(DB_MEMBERSHIP).objects.keys()] }).toEqual(objects);
  });

  it('writes nothing when the deregistration is delivered again', async () => {
    const app = testApp();
    await applyLink(app.deps, mysql());
    await deliver(app, fixture('gke-delete-cluster-last'), 'del');
    const before = { store: storeWrites(app.store), clusters: app.clusters.totalWrites };
    await deliver(app, fixture('gke-delete-cluster-last'), 'del');
    await deliver(app, fixture('gke-delete-cluster-last'), 'del');
    expect({ store: storeWrites(app.store), clusters: app.clusters.totalWrites }).toEqual(before);
  });

  it('does not detach a link on a guess: a deleted membership leaves the same-named GKE cluster alone', async () => {
    const app = testApp();
    await applyLink(app.deps, mysql({ server: DB_CLUSTER }));
    expect(await deliver(app, fixture('fleet-delete-membership-last'))).toMatchObject({ links: [] });
    expect((await syncStatus(app)).server).toBe('synced');
  });

  it('a detached side stays detached when a later sync cannot reach its cluster', async () => {
    const app = testApp();
    await applyLink(app.deps, mysql());
    await deliver(app, fixture('gke-delete-cluster-last'));
    app.clusters.target(EDGE).failure = unavailable(EDGE);
    app.clusters.target(EDGE).wipe();
    await applyLink(app.deps, mysql());
    const status = await getLink(app.deps, 'mysql');
    expect(status.client.sync.status).toBe('detached');
    expect(status.client.sync.error).toContain('not answering');
    expect(status.server.sync.status).toBe('synced');
  });

  it('a detached side comes back when its cluster registers again', async () => {
    const app = testApp();
    await applyLink(app.deps, mysql());
    await deliver(app, fixture('gke-delete-cluster-last'));
    app.clusters.target(EDGE).wipe();
    await deliver(app, fixture('gke-create-cluster-last'));
    expect(await syncStatus(app)).toEqual({ client: 'synced', server: 'synced' });
    expect(clientSecret(app)).toBeDefined();
  });
});
