// The upgrade path: a deployment whose claims were secrets of the store, given a bucket. Its claim
// secrets still count (one metadata read when the bucket has no claim of the key), a link holding
// one keeps it without a new claim, and it is given back on delete and on a port or host change;
// one its holder no longer uses is taken over into the bucket. New claims go to the bucket only.
import { describe, expect, it } from 'vitest';
import { deleteLink } from '../../shared/app/delete.js';
import { hostClaimId, portClaimId } from '../../shared/app/port-claim.js';
import { applyLink } from '../../shared/app/provision.js';
import { storeLabels } from '../../shared/link/names.js';
import { secretClaims } from '../../shared/store/claims/port.js';
import { specInput, withField } from '../support/builders.js';
import { storeWrites, testApp } from '../support/app.js';
import { bucketClaims, CLAIMS_BUCKET } from '../support/claim-backends.js';

const PORT = portClaimId('meshlink', { cluster: 'server-cluster', port: 13306 });
const HOST = hostClaimId('meshlink', { cluster: 'client-cluster', host: 'mysql.link.example.com' });

/** mysql made with claim secrets (no bucket), then the deployment given a bucket. */
async function upgraded() {
  const app = testApp();
  await applyLink(app.deps, specInput());
  const bucket = await bucketClaims(app.clock);
  app.deps.claims = bucket.claims;
  const secrets = secretClaims(app.store);
  const legacyHolder = async (id: string) => (await secrets.read(id))?.labels['meshlink-link'];
  const bucketHolder = async (id: string) => (await bucket.claims.read(id))?.labels['meshlink-link'];
  return { ...app, fake: bucket.fake, legacyHolder, bucketHolder };
}

const refusal = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err);

describe('claim secrets made before the bucket', () => {
  it('still count: another link is refused the port and the host, at the metadata reads of a store without a bucket, writing nothing', async () => {
    const HOST_TAKEN = specInput({ host: 'mysql.link.example.com' }, 'postgres');
    const PORT_TAKEN = specInput({}, 'postgres');
    /** Store metadata reads and writes of the two refusals, with each claim's secret read once. */
    async function refusals(app: ReturnType<typeof testApp>) {
      app.clock.advance(10 * app.deps.settings.leaseMs); // not young: they count because mysql uses them
      const [reads, writes] = [app.store.calls.getSecret, storeWrites(app.store)];
      expect(await refusal(applyLink(app.deps, HOST_TAKEN))).toMatchObject({ code: 'conflict', details: [{ path: 'host' }] });
      expect(await refusal(applyLink(app.deps, PORT_TAKEN))).toMatchObject({ details: [{ path: 'server.gatewayPort' }] });
      return { reads: app.store.calls.getSecret - reads, writes: storeWrites(app.store) - writes };
    }
    const before = testApp();
    await applyLink(before.deps, specInput());
    const app = await upgraded();
    expect(await refusals(app)).toEqual(await refusals(before));
    expect((await refusals(app)).writes).toBe(0);
    expect(app.fake.calls['objects.insert'] ?? 0).toBe(0);
  });

  it('are held by their link as they are: a re-apply makes no claim in the bucket', async () => {
    const app = await upgraded();
    const writes = storeWrites(app.store);
    expect(await applyLink(app.deps, specInput())).toMatchObject({ created: false });
    expect(storeWrites(app.store)).toBe(writes);
    expect(app.fake.calls['objects.insert'] ?? 0).toBe(0);
    expect([await app.legacyHolder(PORT), await app.legacyHolder(HOST)]).toEqual(['mysql', 'mysql']);
  });

  it('are given back on delete, and the next link claims in the bucket', async () => {
    const app = await upgraded();
    await deleteLink(app.deps, 'mysql');
    expect([await app.legacyHolder(PORT), await app.legacyHolder(HOST)]).toEqual([undefined, undefined]);
    await applyLink(app.deps, specInput({ host: 'mysql.link.example.com' }, 'postgres'));
    expect([await app.bucketHolder(PORT), await app.bucketHolder(HOST)]).toEqual(['postgres', 'postgres']);
    expect((await app.store.listSecrets({ labels: { 'meshlink-role': 'port-claim' } })).secrets).toEqual([]);
  });

  it('are given back on a port change and on a client cluster move, the new claims in the bucket', async () => {
    const app = await upgraded();
    const moved = withField(withField(specInput(), 'server.gatewayPort', 13307), 'client.cluster', 'client-cluster-2');
    await applyLink(app.deps, moved);
    expect([await app.legacyHolder(PORT), await app.legacyHolder(HOST)]).toEqual([undefined, undefined]);
    expect([...app.fake.objects(CLAIMS_BUCKET).values()].map((o) => o.metadata['meshlink-link'])).toEqual(['mysql', 'mysql']);
    expect(await app.bucketHolder(portClaimId('meshlink', { cluster: 'server-cluster', port: 13307 }))).toBe('mysql');
    expect(await app.bucketHolder(hostClaimId('meshlink', { cluster: 'client-cluster-2', host: 'mysql.link.example.com' }))).toBe('mysql');
  });

  it('left by a link that no longer uses it, is taken over into the bucket (the secret deleted at its etag)', async () => {
    const app = await upgraded();
    await app.store.createSecret(portClaimId('meshlink', { cluster: 'server-cluster', port: 14000 }), { labels: storeLabels('ghost', 'port-claim'), annotations: {} });
    app.clock.advance(app.deps.settings.leaseMs);
    await applyLink(app.deps, withField(specInput({ host: 'pg.link.example.com' }, 'postgres'), 'server.gatewayPort', 14000));
    const id = portClaimId('meshlink', { cluster: 'server-cluster', port: 14000 });
    expect([await app.legacyHolder(id), await app.bucketHolder(id)]).toEqual([undefined, 'postgres']);
  });
});
