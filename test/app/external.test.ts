// One-sided links through the use-cases: only our side is provisioned, its ca.crt is the partner's
// bundle, ca.pem serves what the partner must trust, and rotation, registration, delete and a
// renewed partner CA all handle the side the partner runs. Partner CAs are made by openssl.
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyLink } from '../../shared/app/provision.js';
import { getLink, listLinkSummaries } from '../../shared/app/queries.js';
import { deleteLink } from '../../shared/app/delete.js';
import { registerCluster } from '../../shared/app/register.js';
import { forceRotation, rotateLink } from '../../shared/app/rotate.js';
import { InProcessRotationQueue } from '../../shared/queue/in-process-rotation-queue.js';
import { sweep } from '../../shared/app/sweep.js';
import { credentialName, MANAGER, sideIdentity, STORE_LABEL_MANAGED_BY, type Side } from '../../shared/link/names.js';
import { splitPemBundle } from '../../shared/pki/inspect.js';
import { handleApiRequest } from '../../functions/http-api.js';
import { describeLink } from '../../shared/cli/describe.js';
import { linkRow } from '../../shared/ui/view.js';
import { specInput } from '../support/builders.js';
import { testApp, type TestApp } from '../support/app.js';
import { credentialFromSecret } from '../support/dataplane.js';
import { partnerPki, type PartnerPki } from '../support/partner-pki.js';

const DAY = 86_400_000;
const SANS = ['spiffe://partner.example/db'];
let partner: PartnerPki;
let renewed: PartnerPki;
beforeAll(() => {
  partner = partnerPki({ days: 30 });
  renewed = partnerPki({ days: 400, cn: 'Partner Test CA 2' });
});
afterAll(() => {
  partner.remove();
  renewed.remove();
});

const toPartnerServer = (caCertificates = partner.ca.pem, extra: Record<string, unknown> = {}) =>
  specInput({ ...extra, server: { external: { address: '203.0.113.9', port: 5432, caCertificates, subjectAltNames: SANS } } });
const fromPartnerClient = (caCertificates = partner.ca.pem) => specInput({ client: { external: { caCertificates, subjectAltNames: SANS } } });
const CLUSTER: Record<Side, string> = { client: 'client-cluster', server: 'server-cluster' };

function secretOf(app: TestApp, side: Side) {
  return credentialFromSecret(app.clusters.target(CLUSTER[side]).get('Secret', 'istio-system', credentialName('mysql', side)), side);
}

async function caPem(app: TestApp): Promise<{ status: number; type?: string; body: string }> {
  const res = await handleApiRequest(app.deps, { method: 'GET', path: '/links/mysql/ca.pem', body: Buffer.alloc(0) });
  return { status: res.status, ...(res.headers?.['content-type'] ? { type: res.headers['content-type'] } : {}), body: String(res.body) };
}

/** Every store secret id meshlink made (one page is plenty here). */
async function storeIds(app: TestApp): Promise<string[]> {
  return (await app.memory.listSecrets({ labels: { [STORE_LABEL_MANAGED_BY]: MANAGER } })).secrets.map((s) => s.id);
}

const fingerprints = (bundle: string) => splitPemBundle(bundle).map((pem) => new X509Certificate(pem).fingerprint256);

// The app's clock starts now: the partner CA (made by openssl just now) is current for it.
const app0 = () => testApp({ start: new Date().toISOString() });

describe('server.external: meshlink provisions only the client cluster', () => {
  it("writes the client side with a leaf of the link's CA and the partner's CAs as ca.crt; nothing on a server cluster", async () => {
    const app = app0();
    const { status } = await applyLink(app.deps, toPartnerServer());
    expect([...app.clusters.clusters.keys()]).toEqual(['client-cluster']);
    const secret = secretOf(app, 'client');
    expect(fingerprints(secret['ca.crt'])).toEqual(fingerprints(partner.ca.pem));
    const leaf = new X509Certificate(secret['tls.crt']);
    expect(leaf.subjectAltName).toContain(sideIdentity('mysql.link.example.com', 'mysql', 'client'));
    expect(leaf.verify(new X509Certificate(splitPemBundle((await caPem(app)).body)[0]!).publicKey)).toBe(true);
    expect(status.server.partner).toMatchObject({ name: '203.0.113.9:5432', subjectAltNames: SANS, mustTrust: [1], caDaysLeft: 29 });
    expect(status.server.partner!.caCertificates).toEqual([{ subject: 'CN=Partner Test CA', notAfter: expect.any(String), daysLeft: 29 }]);
    expect(status.client.partner).toBeUndefined();
    expect((await listLinkSummaries(app.deps))[0]!.server).toMatchObject({ partner: { name: '203.0.113.9:5432' } });
  });

  it('shows the partner side on the status page and in `meshlink describe`', async () => {
    const app = app0();
    const { status } = await applyLink(app.deps, toPartnerServer());
    expect(linkRow((await listLinkSummaries(app.deps))[0]!, app.clock()).sides[1]).toMatchObject({ kind: 'partner', name: '203.0.113.9:5432', synced: true });
    const text = describeLink(status, app.clock());
    expect(text).toMatch(/Server side:\n  Partner: +203\.0\.113\.9:5432\n  Pinned: +spiffe:\/\/partner\.example\/db\n  Partner CAs: +CN=Partner Test CA expires/);
    expect(text).toMatch(/Must trust: +CA generations 1/);
  });

  it("takes the nip.io host from the partner server's address", async () => {
    const app = app0();
    const { host: _host, ...spec } = toPartnerServer(partner.ca.pem, { hostConvention: 'nip.io' });
    const { status } = await applyLink(app.deps, spec);
    expect(status.host).toBe('203.0.113.9.nip.io');
  });

  it('claims no ingress gateway port, and a repeated apply writes nothing', async () => {
    const app = app0();
    await applyLink(app.deps, toPartnerServer());
    expect((await storeIds(app)).filter((id) => id.includes('port'))).toEqual([]);
    // Its host on the client cluster is ours (one ServiceEntry per host there): claimed.
    expect((await storeIds(app)).filter((id) => id.includes('-host-'))).toHaveLength(1);
    const writes = app.clusters.totalWrites;
    await applyLink(app.deps, toPartnerServer());
    expect(app.clusters.totalWrites).toBe(writes);
  });

  it('publishes a renewed partner bundle with the same leaf', async () => {
    const app = app0();
    await applyLink(app.deps, toPartnerServer());
    const before = secretOf(app, 'client');
    await applyLink(app.deps, toPartnerServer(partner.ca.pem + renewed.ca.pem));
    const after = secretOf(app, 'client');
    expect(after['tls.crt']).toBe(before['tls.crt']);
    expect(fingerprints(after['ca.crt'])).toEqual(fingerprints(partner.ca.pem + renewed.ca.pem));
    expect((await getLink(app.deps, 'mysql')).server.partner!.caDaysLeft).toBe(29); // the first to expire counts
  });

  it('re-applies the client side when its cluster registers again', async () => {
    const app = app0();
    await applyLink(app.deps, toPartnerServer());
    app.clusters.target('client-cluster').wipe();
    const result = await registerCluster(app.deps, { kind: 'registered', aliases: ['client-cluster'], source: 'meshlink' });
    expect(result.done).toEqual(['mysql']);
    expect(fingerprints(secretOf(app, 'client')['ca.crt'])).toEqual(fingerprints(partner.ca.pem));
  });

  it('finishes a forced leaf rotation: our one leaf replaced is all there is to replace', async () => {
    const app = app0();
    await applyLink(app.deps, toPartnerServer());
    const before = secretOf(app, 'client');
    await forceRotation(app.deps, 'mysql', 'leaf');
    const status = await getLink(app.deps, 'mysql');
    expect(status.rotation.forced).toBeUndefined();
    expect(secretOf(app, 'client')['tls.crt']).not.toBe(before['tls.crt']);
  });

  it('moves the client side to another cluster and clears the old one', async () => {
    const app = app0();
    await applyLink(app.deps, toPartnerServer());
    const moved = toPartnerServer();
    const { status } = await applyLink(app.deps, { ...moved, client: { ...(moved.client as object), cluster: 'client-cluster-2' } });
    expect(app.clusters.target('client-cluster').objects.size).toBe(0);
    expect(app.clusters.target('client-cluster-2').objects.size).toBeGreaterThan(0);
    expect(status.pendingCleanup).toBeUndefined();
    expect(status.server.sync.status).toBe('synced');
  });

  it('deletes the one side and every store secret', async () => {
    const app = app0();
    await applyLink(app.deps, toPartnerServer());
    await deleteLink(app.deps, 'mysql');
    expect(app.clusters.target('client-cluster').objects.size).toBe(0);
    expect(await storeIds(app)).toEqual([]);
  });
});

describe('client.external: meshlink provisions only the server cluster', () => {
  it("writes the server side with the partner's CAs as ca.crt and pins the partner's identities", async () => {
    const app = app0();
    const { status } = await applyLink(app.deps, fromPartnerClient());
    expect([...app.clusters.clusters.keys()]).toEqual(['server-cluster']);
    expect(fingerprints(secretOf(app, 'server')['ca.crt'])).toEqual(fingerprints(partner.ca.pem));
    const gateway = app.clusters.target('server-cluster').get('Gateway', 'istio-system', 'mysql-ingress') as unknown as { spec: { servers: { tls: { subjectAltNames: string[] } }[] } };
    expect(gateway.spec.servers[0]!.tls.subjectAltNames).toEqual(SANS);
    expect(status.client.partner).toMatchObject({ name: SANS[0], mustTrust: [1] });
  });

  it('claims the ingress gateway port and no host (no client cluster of ours); a delete leaves no store secret', async () => {
    const app = app0();
    await applyLink(app.deps, fromPartnerClient());
    const ids = await storeIds(app);
    expect(ids.filter((id) => id.includes('-port-'))).toHaveLength(1);
    expect(ids.filter((id) => id.includes('-host-'))).toEqual([]);
    expect(await deleteLink(app.deps, 'mysql')).toEqual({ pending: [], abandoned: [] });
    expect(app.clusters.target('server-cluster').objects.size).toBe(0);
    expect(await storeIds(app)).toEqual([]);
  });

  it('lets another link with the same host on a client cluster of ours have it', async () => {
    const app = app0();
    await applyLink(app.deps, fromPartnerClient());
    const other = { ...specInput({}, 'other'), host: 'mysql.link.example.com', server: { cluster: 'server-cluster', service: 'mysql.default.svc.cluster.local', port: 3307 } };
    await expect(applyLink(app.deps, other)).resolves.toMatchObject({ created: true });
  });
});

describe('POST /links with bad one-sided input', () => {
  it('is a 400 naming the field, and nothing is stored or written (invariant 7)', async () => {
    const app = app0();
    const body = Buffer.from(JSON.stringify({ ...toPartnerServer(), client: { external: { caCertificates: 'not PEM', subjectAltNames: [] } } }));
    const res = await handleApiRequest(app.deps, { method: 'POST', path: '/links', contentType: 'application/json', body });
    expect(res.status).toBe(400);
    expect((res.body as { details: { path: string }[] }).details.map((d) => d.path).sort()).toEqual(['client.external', 'client.external.subjectAltNames']);
    expect(await storeIds(app)).toEqual([]);
    expect(app.clusters.totalWrites).toBe(0);
  });
});

describe('GET /links/{name}/ca.pem', () => {
  it("answers the link CA's certificate as application/x-pem-file, and no key", async () => {
    const app = app0();
    await applyLink(app.deps, toPartnerServer());
    const res = await caPem(app);
    expect(res).toMatchObject({ status: 200, type: 'application/x-pem-file' });
    expect(splitPemBundle(res.body)).toHaveLength(1);
    expect(new X509Certificate(res.body).ca).toBe(true);
    expect(res.body).not.toMatch(/PRIVATE KEY/);
  });

  it('is a 404 for a link that does not exist', async () => {
    expect((await caPem(app0())).status).toBe(404);
  });
});

describe('rotation of a link facing a partner', () => {
  // The partner lead as long as the grace: these check the rollover's steps (partner-lead.test.ts the lead).
  const SETTINGS = { rolloverGraceMs: 3 * DAY, partnerLeadMs: 3 * DAY };

  it('renews our leaf and keeps the partner bundle as its trust', async () => {
    const app = testApp({ start: new Date().toISOString(), settings: SETTINGS });
    await applyLink(app.deps, toPartnerServer());
    const before = secretOf(app, 'client');
    app.clock.advance(21 * DAY);
    const outcome = await rotateLink(app.deps, 'mysql');
    expect(outcome).toMatchObject({ outcome: 'rotated', steps: ['issue-leaf(client)', 'sync(client)'] });
    const after = secretOf(app, 'client');
    expect(after['tls.crt']).not.toBe(before['tls.crt']);
    expect(after['ca.crt']).toBe(before['ca.crt']);
  });

  it('is found due by the sweep and rotated, and not due again after', async () => {
    const app = testApp({ start: new Date().toISOString(), settings: SETTINGS });
    await applyLink(app.deps, fromPartnerClient());
    app.clock.advance(21 * DAY);
    const report = await sweep(app.deps, new InProcessRotationQueue(app.deps));
    expect(report.rotated).toEqual([expect.objectContaining({ link: 'mysql', outcome: 'rotated', steps: ['issue-leaf(server)', 'sync(server)'] })]);
    expect(report.errors).toEqual([]);
    expect((await sweep(app.deps, new InProcessRotationQueue(app.deps))).due).toEqual([]);
  });

  it('rolls the CA over: ca.pem offers old and new, the status names the date the partner must trust the new one by, and the old goes last', async () => {
    const app = testApp({ start: new Date().toISOString(), settings: SETTINGS });
    await applyLink(app.deps, toPartnerServer(partner.ca.pem, { certificates: { leafTtl: '10d', caTtl: '60d' } }));
    const first = fingerprints((await caPem(app)).body);
    app.clock.advance(40 * DAY); // the CA is due (two thirds of 60d)
    await rotateLink(app.deps, 'mysql');
    let status = await getLink(app.deps, 'mysql');
    expect(status.phase).toBe('trust-added');
    const both = fingerprints((await caPem(app)).body);
    expect(both).toHaveLength(2);
    expect(both[0]).toBe(first[0]);
    const by = status.server.partner!.trustNextCaBy!;
    expect(new Date(by).getTime()).toBe(app.clock().getTime() + 3 * DAY);
    expect(status.server.partner!.mustTrust).toEqual([1, 2]);
    // Until then our side still presents a leaf of the old CA.
    expect(status.client.caGeneration).toBe(1);
    app.clock.advance(3 * DAY);
    await rotateLink(app.deps, 'mysql');
    status = await getLink(app.deps, 'mysql');
    expect({ phase: status.phase, generation: status.client.caGeneration }).toEqual({ phase: 'leaves-switched', generation: 2 });
    expect(fingerprints((await caPem(app)).body)).toEqual(both); // the partner may still be told the old one
    expect(fingerprints(secretOf(app, 'client')['ca.crt'])).toEqual(fingerprints(partner.ca.pem));
    app.clock.advance(3 * DAY);
    await rotateLink(app.deps, 'mysql');
    status = await getLink(app.deps, 'mysql');
    expect(status.phase).toBe('stable');
    expect(fingerprints((await caPem(app)).body)).toEqual([both[1]]);
    expect(status.server.partner!.trustNextCaBy).toBeUndefined();
  });

  it('gives the partner the partner lead (14 days by default), not the grace: trustNextCaBy, and our leaf of the old CA until then', async () => {
    const app = testApp({ start: new Date().toISOString() });
    await applyLink(app.deps, toPartnerServer(partner.ca.pem));
    const status0 = await getLink(app.deps, 'mysql');
    app.clock.set(new Date(status0.ca[0]!.renewAt));
    await rotateLink(app.deps, 'mysql');
    let status = await getLink(app.deps, 'mysql');
    expect(status.phase).toBe('trust-added');
    expect(Date.parse(status.server.partner!.trustNextCaBy!)).toBe(app.clock().getTime() + 14 * DAY);
    app.clock.advance(14 * DAY - 60_000);
    await rotateLink(app.deps, 'mysql');
    status = await getLink(app.deps, 'mysql');
    expect([status.phase, status.client.caGeneration]).toEqual(['trust-added', 1]);
    app.clock.advance(60_000);
    await rotateLink(app.deps, 'mysql');
    expect((await getLink(app.deps, 'mysql')).client.caGeneration).toBe(2);
  });
});
