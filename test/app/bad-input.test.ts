// Bad input never harms a link (invariant 7): a value no certificate can hold, a malformed cluster
// reference or a host another link has on the client cluster is refused before anything is
// written; a refused create leaves no trace; a failed mint leaves the link as it was; and delete
// always works, whatever the stored spec or the clusters.
import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deleteLink } from '../../shared/app/delete.js';
import { linkSecretId, loadLink } from '../../shared/app/link-record.js';
import { encodeSpec } from '../../shared/app/payloads.js';
import { hostClaimId, portClaimId } from '../../shared/app/port-claim.js';
import { applyLink } from '../../shared/app/provision.js';
import { getLink, listLinks } from '../../shared/app/queries.js';
import { forceRotation, rotateLink } from '../../shared/app/rotate.js';
import { registerCluster } from '../../shared/app/register.js';
import { InProcessRotationQueue } from '../../shared/queue/in-process-rotation-queue.js';
import { sweep } from '../../shared/app/sweep.js';
import { isMeshlinkError } from '../../shared/errors.js';
import type { RegistrationEvent } from '../../shared/registration/events.js';
import { LABEL_LINK, objectNames } from '../../shared/link/names.js';
import { encodeState, type LinkState } from '../../shared/link/state.js';
import { MALFORMED_CLUSTER_REFS, specInput, withField } from '../support/builders.js';
import { storeWrites, testApp, type TestApp } from '../support/app.js';
import { unavailable } from '../support/memory-clusters.js';
import { CLAIM_BACKENDS, CLAIMS_BUCKET, useClaims } from '../support/claim-backends.js';

afterEach(() => vi.restoreAllMocks());

async function refusal(promise: Promise<unknown>): Promise<any> {
  return promise.then(
    () => {
      throw new Error('accepted');
    },
    (err: unknown) => err,
  );
}

async function storeIds(app: TestApp): Promise<string[]> {
  return (await app.store.listSecrets({ labels: {} })).secrets.map((s) => s.id).sort();
}

/** What clusters hold for a link: its objects, and its port on any gateway Service. */
function held(app: TestApp, link: string): string[] {
  const out: string[] = [];
  for (const [name, c] of app.clusters.clusters) {
    for (const o of c.objects.values()) if (o.metadata.labels?.[LABEL_LINK] === link) out.push(`${name} ${o.kind} ${o.metadata.namespace}/${o.metadata.name}`);
    for (const s of c.services.values()) for (const p of s.ports) if (p.name === objectNames(link).ingressServicePort) out.push(`${name} port ${p.name}:${p.port}`);
  }
  return out.sort();
}

/** Stores `doc` as the link's spec, as older code that accepted it would have (no validation). */
async function storeSpecAsOlderCode(app: TestApp, link: string, doc: Record<string, any>, state: Partial<LinkState> = {}): Promise<void> {
  const id = linkSecretId(app.deps, link);
  const version = await app.store.addVersion(id, encodeSpec(doc));
  const meta = await app.store.getSecret(id);
  const current = (await loadLink(app.deps, link))!.state;
  await app.store.updateAnnotations(id, { ...meta.annotations, ...encodeState({ ...current, ...state, specVersion: version, specHash: 'older' }) }, meta.etag);
}

const HUGE_CA = withField(specInput({}, 'tb'), 'certificates', { caTtl: '9999999d' });

describe('a lifetime no certificate can hold (defect 1)', () => {
  it('is a 400 naming certificates.caTtl on an update, and the link keeps rotating', async () => {
    const app = testApp();
    await applyLink(app.deps, specInput({}, 'tb'));
    const before = storeWrites(app.store);
    const err = await refusal(applyLink(app.deps, HUGE_CA));
    expect(err).toMatchObject({ code: 'invalid-argument', details: [{ path: 'certificates.caTtl', message: expect.stringMatching(/at most/) }] });
    expect(storeWrites(app.store)).toBe(before);
    const forced = await forceRotation(app.deps, 'tb', 'ca');
    expect(forced.error).toBeUndefined();
    expect(forced.state.cas.map((ca) => ca.generation)).toContain(2);
  });

  it('is a 400 naming certificates.caTtl on a new link, which leaves no record, secret, claim or object', async () => {
    const app = testApp();
    const err = await refusal(applyLink(app.deps, HUGE_CA));
    expect(err).toMatchObject({ code: 'invalid-argument', details: [{ path: 'certificates.caTtl', message: expect.any(String) }] });
    expect(await storeIds(app)).toEqual([]);
    expect(app.clusters.totalWrites).toBe(0);
    expect(await listLinks(app.deps)).toEqual([]);
  });

  it('stored by older code, fails a forced CA rotation without a trace, and posting a good spec repairs the link', async () => {
    const app = testApp();
    await applyLink(app.deps, specInput({}, 'tb'));
    await storeSpecAsOlderCode(app, 'tb', HUGE_CA);
    const before = { cas: (await loadLink(app.deps, 'tb'))!.state.cas, versions: await app.store.listVersions(`${app.deps.settings.secretPrefix}-tb-ca`) };

    expect(await refusal(forceRotation(app.deps, 'tb', 'ca'))).toMatchObject({ code: 'invalid-argument' });
    expect((await loadLink(app.deps, 'tb'))!.state.cas).toEqual(before.cas);
    expect(await app.store.listVersions(`${app.deps.settings.secretPrefix}-tb-ca`)).toEqual(before.versions);

    expect((await listLinks(app.deps)).map((l) => l.name)).toEqual([]); // left out, not failing the listing
    expect((await applyLink(app.deps, specInput({}, 'tb'))).created).toBe(false);
    expect((await listLinks(app.deps)).map((l) => l.name)).toEqual(['tb']);
    const forced = await forceRotation(app.deps, 'tb', 'ca');
    expect(forced.error).toBeUndefined();
    expect(forced.state.cas.map((ca) => ca.generation)).toContain(2);
  });

  it('a mint that fails its checks leaves a new link absent: no record, secret, claim or object', async () => {
    const app = testApp();
    vi.spyOn(NodeX509Certificate.prototype, 'checkPrivateKey').mockReturnValue(false);
    expect(await refusal(applyLink(app.deps, specInput()))).toMatchObject({ code: 'internal' });
    vi.restoreAllMocks();
    expect(await storeIds(app)).toEqual([]);
    expect(app.clusters.totalWrites).toBe(0);
    expect((await applyLink(app.deps, specInput())).created).toBe(true);
  });
});

describe('a malformed cluster reference (defect 2)', () => {
  for (const side of ['client', 'server'] as const) {
    it.each(MALFORMED_CLUSTER_REFS)(`in ${side}.cluster, %j, is a 400 naming the field, before anything is written`, async (ref) => {
      const app = testApp();
      const err = await refusal(applyLink(app.deps, withField(specInput(), `${side}.cluster`, ref)));
      expect(err).toMatchObject({ code: 'invalid-argument', details: [{ path: `${side}.cluster`, message: expect.stringMatching(/^must /) }] });
      expect(await storeIds(app)).toEqual([]);
      expect(app.clusters.totalWrites).toBe(0);
    });
  }

  it.each(['client', 'server'] as const)('stored by older code on the %s side: the link is still deleted, and what the other side holds goes', async (side) => {
    const app = testApp();
    await applyLink(app.deps, withField(specInput({}, 'postgres'), 'server.gatewayPort', 15432));
    await applyLink(app.deps, specInput());
    const bad = 'projects/x/locations/l/clusters/';
    await storeSpecAsOlderCode(app, 'mysql', withField(specInput(), `${side}.cluster`, bad), side === 'client' ? { clientCluster: bad } : { serverCluster: bad });
    const healthy = side === 'client' ? 'server-cluster' : 'client-cluster';

    const result = await deleteLink(app.deps, 'mysql');

    expect(result.pending).toEqual([]);
    expect(result.abandoned.map((p) => p.cluster)).toEqual(expect.arrayContaining([bad]));
    expect(await loadLink(app.deps, 'mysql')).toBeUndefined();
    expect(held(app, 'mysql').filter((h) => h.startsWith(healthy))).toEqual([]);
    // The other link's port stays on the shared ingress gateway Service.
    expect(held(app, 'postgres')).toContain('server-cluster port tls-postgres:15432');
    expect((await storeIds(app)).filter((id) => id.includes('-mysql-'))).toEqual([]);
  });
});

describe.each(CLAIM_BACKENDS)('one host per client cluster (defect 3), claims in %s', (backend) => {
  const SAME_HOST = withField(withField(specInput({}, 'postgres'), 'host', 'mysql.link.example.com'), 'server.gatewayPort', 15432);
  async function claimApp() {
    const app = testApp();
    return { ...app, view: await useClaims(backend, app.deps, app.clock) };
  }

  it('refuses a second link with the host on the same client cluster: 409 naming host, nothing written', async () => {
    const app = await claimApp();
    await applyLink(app.deps, specInput());
    const before = { writes: storeWrites(app.store), objects: app.view.objectWrites(), cluster: app.clusters.totalWrites };
    const err = await refusal(applyLink(app.deps, SAME_HOST));
    expect(err).toMatchObject({ code: 'conflict', details: [{ path: 'host', message: expect.stringMatching(/already used by link mysql on client cluster client-cluster/) }] });
    expect({ writes: storeWrites(app.store), objects: app.view.objectWrites(), cluster: app.clusters.totalWrites }).toEqual(before);
    expect(await loadLink(app.deps, 'postgres')).toBeUndefined();
  });

  it('accepts the host on another client cluster', async () => {
    const app = await claimApp();
    await applyLink(app.deps, specInput());
    expect((await applyLink(app.deps, withField(SAME_HOST, 'client.cluster', 'client-cluster-2'))).created).toBe(true);
  });

  it('gives exactly one of two links created at once the host, and the loser leaves no claim', async () => {
    const app = await claimApp();
    const results = await Promise.allSettled([applyLink(app.deps, specInput()), applyLink(app.deps, SAME_HOST)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const winner = (await loadLink(app.deps, 'mysql')) ? 'mysql' : 'postgres';
    const ids = (link: string) => [hostClaimId('meshlink', { cluster: 'client-cluster', host: 'mysql.link.example.com' }), portClaimId('meshlink', { cluster: 'server-cluster', port: link === 'mysql' ? 13306 : 15432 })];
    for (const id of ids(winner)) expect(await app.view.holderOf(id)).toBe(winner);
    // The loser's port claim was given back (its host claim was never made).
    expect(await app.view.holderOf(ids(winner === 'mysql' ? 'postgres' : 'mysql')[1]!)).toBeUndefined();
    expect((await storeIds(app)).filter((id) => id.includes('-port-') || id.includes('-host-'))).toHaveLength(app.view.fake ? 0 : 2);
    expect(app.view.fake?.objects(CLAIMS_BUCKET).size ?? 2).toBe(2);
  });

  it('frees the host on delete and on a client cluster move', async () => {
    const app = await claimApp();
    await applyLink(app.deps, specInput());
    await applyLink(app.deps, withField(specInput(), 'client.cluster', 'client-cluster-2'));
    expect((await applyLink(app.deps, SAME_HOST)).created).toBe(true); // on client-cluster, freed by the move
    await deleteLink(app.deps, 'mysql');
    const id = hostClaimId(app.deps.settings.secretPrefix, { cluster: 'client-cluster-2', host: 'mysql.link.example.com' });
    expect(await app.view.holderOf(id)).toBeUndefined();
  });

  it('a re-apply of an unchanged link costs one read per claim and writes nothing', async () => {
    const app = await claimApp();
    await applyLink(app.deps, specInput());
    const objectReads = app.view.objectReads();
    const reads = app.store.calls.getSecret + objectReads;
    const writes = storeWrites(app.store) + app.view.objectWrites();
    await applyLink(app.deps, specInput());
    expect(storeWrites(app.store) + app.view.objectWrites()).toBe(writes);
    // The link record twice (gateway namespace discovery, then the apply), then one read per
    // claim (a bucket's claims found there: no read of a legacy claim secret).
    expect(app.store.calls.getSecret + app.view.objectReads() - reads).toBe(4);
    expect(app.view.objectReads() - objectReads).toBe(app.view.fake ? 2 : 0);
  });
});

describe('delete always works (a cluster not answering)', () => {
  async function deletedWhileDown() {
    const app = testApp();
    await applyLink(app.deps, specInput());
    app.clusters.target('client-cluster').failure = unavailable('client-cluster');
    const result = await deleteLink(app.deps, 'mysql');
    return { app, result };
  }

  it('deletes the link from every read, cleans what the clusters that answer hold, and reports the rest', async () => {
    const { app, result } = await deletedWhileDown();
    expect(result).toEqual({ pending: [{ what: 'objects', side: 'client', cluster: 'client-cluster', namespace: 'istio-system' }], abandoned: [] });
    expect(await refusal(getLink(app.deps, 'mysql'))).toMatchObject({ code: 'not-found' });
    expect(await listLinks(app.deps)).toEqual([]);
    expect(held(app, 'mysql').filter((h) => h.startsWith('server-cluster'))).toEqual([]);
    // Credentials go at once; the record stays as the tombstone, with the claims it still needs.
    expect((await storeIds(app)).filter((id) => id.includes('-mysql-'))).toEqual([linkSecretId(app.deps, 'mysql')]);
  });

  it('is finished by the sweep once the cluster answers again', async () => {
    const { app } = await deletedWhileDown();
    const queue = new InProcessRotationQueue(app.deps);
    app.clock.advance(app.deps.settings.syncRetryMs);
    const stillDown = await sweep(app.deps, queue);
    expect(stillDown.rotated).toEqual([expect.objectContaining({ link: 'mysql', error: expect.stringMatching(/could not clear 1 place/) })]);
    expect(await sweep(app.deps, queue)).toMatchObject({ due: [] }); // not before syncRetryMs

    app.clusters.target('client-cluster').failure = undefined;
    app.clock.advance(app.deps.settings.syncRetryMs);
    await sweep(app.deps, queue);
    expect(held(app, 'mysql')).toEqual([]);
    expect(await storeIds(app)).toEqual([]);
    expect(await rotateLink(app.deps, 'mysql')).toMatchObject({ outcome: 'not-found' });
  });

  it('is finished by the registration of the cluster that did not answer, and a registration while it still does not answer asks for a redelivery', async () => {
    const { app } = await deletedWhileDown();
    const registered: RegistrationEvent = { kind: 'registered', aliases: ['client-cluster'], source: 'meshlink' };
    expect(await refusal(registerCluster(app.deps, registered))).toMatchObject({ code: 'unavailable' });
    expect((await storeIds(app)).filter((id) => id.includes('-mysql-'))).toEqual([linkSecretId(app.deps, 'mysql')]);

    app.clusters.target('client-cluster').failure = undefined;
    expect(await registerCluster(app.deps, registered)).toMatchObject({ links: ['mysql'], done: ['mysql'] });
    expect(held(app, 'mysql')).toEqual([]);
    expect(await storeIds(app)).toEqual([]);
  });

  it('a new link of the same name takes the tombstone over, and keeps its objects where the old ones were', async () => {
    const { app } = await deletedWhileDown();
    app.clusters.target('client-cluster').failure = undefined;
    const created = await applyLink(app.deps, specInput());
    expect(created.created).toBe(true);
    expect(created.status).toMatchObject({ client: { sync: { status: 'synced' } } });
    expect(held(app, 'mysql').filter((h) => h.startsWith('client-cluster')).length).toBeGreaterThan(0);
    expect((await loadLink(app.deps, 'mysql'))!.state).not.toHaveProperty('deleted');
  });

  it('keeps the port claim while the tombstone may hold the port', async () => {
    const app = testApp();
    await applyLink(app.deps, specInput());
    app.clusters.target('server-cluster').failure = unavailable('server-cluster');
    await deleteLink(app.deps, 'mysql');
    app.clock.advance(10 * app.deps.settings.leaseMs);
    const err = await refusal(applyLink(app.deps, withField(specInput({}, 'postgres'), 'server.cluster', 'server-cluster')));
    expect(isMeshlinkError(err)).toBe(true);
    expect(err.details.map((d: { path: string }) => d.path)).toContain('server.gatewayPort');
    expect((await app.store.getSecret(portClaimId(app.deps.settings.secretPrefix, { cluster: 'server-cluster', port: 13306 }))).labels['meshlink-link']).toBe('mysql');
  });
});
