// End to end: a rebuilt cluster breaks the link's data plane; its registration event (a real-format
// audit entry through the handler) restores it with the same certificates, proven by a real TLS
// stack (the loopback egress and ingress of test/support/dataplane.ts reading the cluster Secrets).
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { handleRegistrationEvent } from '../../functions/registration.js';
import { applyLink } from '../../shared/app/provision.js';
import { credentialName } from '../../shared/link/names.js';
import { PUBSUB_MESSAGE_PUBLISHED } from '../../shared/queue/pubsub-message.js';
import { testApp } from '../support/app.js';
import { specInput } from '../support/builders.js';
import { roundTrip, secretFromCluster, startDataPlane, type DataPlane } from '../support/dataplane.js';
import { fixture, messagePublishedData, pubsubMessage, type Fixture } from '../support/registration.js';

const EDGE = 'projects/meshlink-demo/locations/europe-west1-b/clusters/edge-eu';
const DB_MEMBERSHIP = 'projects/meshlink-demo/locations/global/memberships/db-east';
const NAMESPACE = 'istio-system';

const planes: DataPlane[] = [];
afterEach(async () => {
  await Promise.all(planes.splice(0).map((p) => p.close()));
});

describe('a rebuilt cluster, then its registration event', () => {
  it.each<[string, 'client' | 'server', string, Fixture]>([
    ['the client cluster (GKE CreateCluster)', 'client', EDGE, 'gke-create-cluster-last'],
    ['the server cluster (fleet CreateMembership)', 'server', DB_MEMBERSHIP, 'fleet-create-membership-last'],
  ])('%s: the data plane works again, on the same certificates', async (_label, side, cluster, entry) => {
    // Real time: the TLS stack checks validity against the system clock.
    const app = testApp({ start: new Date().toISOString() });
    const base = specInput();
    const created = await applyLink(app.deps, { ...base, client: { ...base.client, cluster: EDGE }, server: { ...base.server, cluster: DB_MEMBERSHIP } });
    const dp = await startDataPlane({
      host: base.host as string,
      link: 'mysql',
      clientSecret: secretFromCluster(app.clusters.target(EDGE), NAMESPACE, credentialName('mysql', 'client')),
      serverSecret: secretFromCluster(app.clusters.target(DB_MEMBERSHIP), NAMESPACE, credentialName('mysql', 'server')),
    });
    planes.push(dp);
    const payload = randomBytes(256);
    expect((await roundTrip(dp.egressPort, payload)).equals(payload)).toBe(true);

    app.clusters.target(cluster).wipe();
    await expect(roundTrip(dp.egressPort, payload)).rejects.toThrow(/connection ended/);
    expect(await dp.failureMatching(/no Secret/)).toMatch(new RegExp(credentialName('mysql', side)));

    const outcome = await handleRegistrationEvent(app.deps, { type: PUBSUB_MESSAGE_PUBLISHED, data: messagePublishedData(pubsubMessage(fixture(entry))) });
    expect(outcome).toMatchObject({ outcome: 'handled', done: ['mysql'] });

    expect((await roundTrip(dp.egressPort, payload)).equals(payload)).toBe(true);
    expect([...dp.stats.clientCertificates.keys()]).toEqual([created.status.client.fingerprint]);
    expect([...dp.stats.serverCertificates.keys()]).toEqual([created.status.server.fingerprint]);
  });
});
