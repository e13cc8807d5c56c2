// An unchanged re-apply compares first and writes only under the link's lease: racing a
// rotation, it never writes back a credential older than the one the rotation just synced
// (invariant 1), and with nothing to heal it writes nothing and takes no lease.
import { createHash, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { applyLink } from '../../shared/app/provision.js';
import { getLink } from '../../shared/app/queries.js';
import { forceRotation } from '../../shared/app/rotate.js';
import type { ClusterResolver, ClusterTarget } from '../../shared/clusters/port.js';
import { credentialName, type Side } from '../../shared/link/names.js';
import { specInput } from '../support/builders.js';
import { storeWrites, testApp, type TestApp } from '../support/app.js';

const SPEC = specInput();
const CLUSTER: Record<Side, string> = { client: 'client-cluster', server: 'server-cluster' };

/** SHA-256 of the certificate the side's cluster Secret presents, as the status reports it. */
function presented(app: TestApp, side: Side): string {
  const secret = app.clusters.target(CLUSTER[side]).get('Secret', 'istio-system', credentialName('mysql', side)) as unknown as { data: Record<string, string> };
  const pem = Buffer.from(secret.data['tls.crt']!, 'base64').toString();
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

/** The app's clusters, running `race` once when the re-apply first touches a cluster (after it loaded the link). */
function racing(app: TestApp, race: () => Promise<unknown>): ClusterResolver {
  let raced = false;
  return {
    target: (cluster) =>
      new Proxy(app.clusters.target(cluster), {
        get(target, prop) {
          const value = Reflect.get(target, prop, target) as unknown;
          if (prop !== 'ensureServicePorts' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
          return async (...args: Parameters<ClusterTarget['ensureServicePorts']>) => {
            if (!raced) {
              raced = true;
              await race();
            }
            return target.ensureServicePorts(...args);
          };
        },
      }),
  };
}

describe('an unchanged re-apply', () => {
  it('racing a rotation, never writes back the credential the rotation replaced', async () => {
    const app = testApp();
    await applyLink(app.deps, SPEC);
    const before = await getLink(app.deps, 'mysql');

    const outcome = await applyLink({ ...app.deps, clusters: racing(app, () => forceRotation(app.deps, 'mysql', 'leaf')) }, SPEC).then(
      () => 'applied',
      (err: { code?: string }) => err.code,
    );

    const after = await getLink(app.deps, 'mysql');
    expect(after.client.fingerprint).not.toBe(before.client.fingerprint); // the rotation happened
    expect(outcome).toBe('conflict'); // the re-apply saw the link change under it, and says so
    expect({ client: presented(app, 'client'), server: presented(app, 'server') }).toEqual({ client: after.client.fingerprint, server: after.server.fingerprint });
  });

  it('with nothing to heal, writes nothing to the store or the clusters', async () => {
    const app = testApp();
    await applyLink(app.deps, SPEC);
    const before = { store: storeWrites(app.store), clusters: app.clusters.totalWrites };
    await applyLink(app.deps, SPEC);
    expect({ store: storeWrites(app.store), clusters: app.clusters.totalWrites }).toEqual(before);
  });

  it('heals a Secret deleted by hand, under the lease, and records nothing else', async () => {
    const app = testApp();
    await applyLink(app.deps, SPEC);
    const fingerprint = (await getLink(app.deps, 'mysql')).client.fingerprint;
    expect(app.clusters.target(CLUSTER.client).objects.delete(`Secret/istio-system/${credentialName('mysql', 'client')}`)).toBe(true);
    await applyLink(app.deps, SPEC);
    expect(presented(app, 'client')).toBe(fingerprint);
    expect((await getLink(app.deps, 'mysql')).client.sync.status).toBe('synced');
  });
});
