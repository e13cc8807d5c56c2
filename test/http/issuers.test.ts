// PUT/GET/DELETE /issuers and links under an issuer, in process: status without key material,
// each refusal naming the problem and leaving the stored issuer as it was, and the 409s.
import { beforeAll, describe, expect, it } from 'vitest';
import { handleApiRequest, type ApiRequest } from '../../functions/http-api.js';
import { listLinkSummaries } from '../../shared/app/queries.js';
import { sweep } from '../../shared/app/sweep.js';
import { linkRow } from '../../shared/ui/view.js';
import { issuerSecretId } from '../../shared/link/names.js';
import { certificateFacts } from '../../shared/pki/issuer-bundle.js';
import { specInput } from '../support/builders.js';
import { storeWrites, testApp, type TestApp } from '../support/app.js';
import { opensslIntermediate, opensslRoot, pemBundle, type OpensslCa } from '../support/openssl-ca.js';
import { unavailable } from '../support/memory-clusters.js';

const PEM = 'application/x-pem-file';
let root: OpensslCa;
let issuing: OpensslCa;
let bundle: string;
let otherRootBundle: string;

beforeAll(() => {
  root = opensslRoot('/O=Example Bank/CN=Example Root CA');
  issuing = opensslIntermediate(root, '/O=Example Bank/CN=Example Mesh CA');
  bundle = pemBundle(issuing, root);
  const other = opensslRoot('/CN=Other Root');
  otherRootBundle = pemBundle(opensslIntermediate(other, '/CN=Other Mesh CA'), other);
});

const app = () => testApp({ start: new Date(Date.now() + 60_000).toISOString() });

function req(method: string, path: string, contentType?: string, body = ''): ApiRequest {
  return { method, path, ...(contentType ? { contentType } : {}), body: Buffer.from(body) };
}

async function call(a: TestApp, r: ApiRequest) {
  const res = await handleApiRequest(a.deps, r);
  return { status: res.status, body: res.body as Record<string, any> };
}

const putIssuer = (a: TestApp, text = bundle, name = 'corp') => call(a, req('PUT', `/issuers/${name}`, PEM, text));
const createLink = (a: TestApp, overrides: Record<string, unknown> = { issuer: 'corp' }, name = 'mysql') =>
  call(a, req('POST', '/links', 'application/json', JSON.stringify(specInput(overrides, name))));

describe('PUT /issuers/{name} with a PEM bundle', () => {
  it('creates the issuer: 201 with its status, never key material; GET and the listing answer the same', async () => {
    const a = app();
    const res = await putIssuer(a);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'corp',
      type: 'bundle',
      issuingCa: { subject: 'O=Example Bank, CN=Example Mesh CA', fingerprint: certificateFacts(issuing.certificate).fingerprint },
      root: { subject: 'O=Example Bank, CN=Example Root CA', fingerprint: certificateFacts(root.certificate).fingerprint },
      notAfter: certificateFacts(issuing.certificate).notAfter,
      links: [],
    });
    expect(JSON.stringify(res.body)).not.toMatch(/PRIVATE KEY|BEGIN/);
    expect(JSON.stringify(a.log.lines)).not.toMatch(/PRIVATE KEY/);
    expect((await call(a, req('GET', '/issuers/corp'))).body).toEqual(res.body);
    expect((await call(a, req('GET', '/issuers'))).body).toEqual({ issuers: [res.body] });
    // The key is stored like every other credential, under the issuer's own secret id.
    expect((await a.memory.listVersions(issuerSecretId('meshlink', 'corp'))).length).toBe(1);
  });

  it('answers the same bundle with 200 and writes nothing', async () => {
    const a = app();
    await putIssuer(a);
    const before = storeWrites(a.store);
    const again = await putIssuer(a);
    expect(again.status).toBe(200);
    expect(storeWrites(a.store)).toBe(before);
  });

  it.each([
    ['not PEM', () => 'just text', /not PEM/],
    ['no key', () => issuing.certificate + root.certificate, /no private key/],
    ['two keys', () => bundle + root.privateKey, /2 private keys/],
    ['a key that matches no certificate', () => root.privateKey + issuing.certificate, /matches no certificate/],
    ['a chain that does not link up', () => pemBundle(issuing), /does not link up/],
    ['a certificate that is not a CA', () => pemBundle(opensslIntermediate(root, '/CN=Leaf', { basicConstraints: 'CA:FALSE' }), root), /not a CA/],
  ])('refuses %s: 400 naming it, the stored issuer as it was', async (_what, text, message) => {
    const a = app();
    const stored = (await putIssuer(a)).body;
    const before = storeWrites(a.store);
    const res = await putIssuer(a, text());
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(message);
    expect(res.body.details).toEqual([{ path: 'bundle', message: expect.stringMatching(message) }]);
    expect(storeWrites(a.store)).toBe(before);
    expect((await call(a, req('GET', '/issuers/corp'))).body).toEqual(stored);
  });

  it('refuses another media type with 415, and a bad name with 400', async () => {
    const a = app();
    const unsupported = await call(a, req('PUT', '/issuers/corp', 'text/plain', bundle));
    expect(unsupported.status).toBe(415);
    expect(unsupported.body.error).toMatch(/application\/x-pem-file/);
    expect((await putIssuer(a, bundle, 'corp-')).body.details).toEqual([{ path: 'name', message: expect.any(String) }]);
    expect(storeWrites(a.store)).toBe(0);
  });

  it('replaces the bundle under the same root: 200, the new issuing CA', async () => {
    const a = app();
    await putIssuer(a);
    await createLink(a);
    const renewed = opensslIntermediate(root, '/O=Example Bank/CN=Example Mesh CA 2');
    const res = await putIssuer(a, pemBundle(renewed, root));
    expect(res.status).toBe(200);
    expect(res.body.issuingCa.fingerprint).toBe(certificateFacts(renewed.certificate).fingerprint);
    expect(res.body.links).toEqual(['mysql']);
  });

  it('takes a bundle under another root while links use the issuer: 200, and the sweep finds its links due (IssuerChanged)', async () => {
    const a = app();
    await putIssuer(a);
    await createLink(a);
    expect((await sweep(a.deps, { enqueue: async () => undefined })).due).toEqual([]);
    const res = await putIssuer(a, otherRootBundle);
    expect(res.status).toBe(200);
    expect(res.body.root.subject).toBe('CN=Other Root');
    expect(res.body.links).toEqual(['mysql']);
    const { due } = await sweep(a.deps, { enqueue: async () => undefined });
    expect(due.map((d) => [d.link, d.reason])).toEqual([['mysql', expect.stringMatching(/^IssuerChanged: CA generation 1 is under another root than issuer corp's/)]]);
  });
});

describe('DELETE /issuers/{name}', () => {
  it('is a 409 while a link uses it, 204 after, then 404', async () => {
    const a = app();
    await putIssuer(a);
    await createLink(a);
    const refused = await call(a, req('DELETE', '/issuers/corp'));
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatch(/mysql/);
    await call(a, req('DELETE', '/links/mysql'));
    expect((await call(a, req('DELETE', '/issuers/corp'))).status).toBe(204);
    expect((await call(a, req('GET', '/issuers/corp'))).status).toBe(404);
    expect((await call(a, req('DELETE', '/issuers/corp'))).status).toBe(404);
  });

  it('is not held by a deleted link whose cluster did not answer (its tombstone); a link revived there takes its own spec\'s issuer', async () => {
    const a = app();
    await putIssuer(a);
    await createLink(a);
    a.clusters.target('client-cluster').failure = unavailable('client-cluster');
    expect((await call(a, req('DELETE', '/links/mysql'))).status).toBe(202);
    expect((await call(a, req('GET', '/issuers/corp'))).body.links).toEqual([]);
    a.clusters.target('client-cluster').failure = undefined;
    // The same name without an issuer over the tombstone: self-signed, and under no issuer.
    const revived = await createLink(a, {});
    expect(revived.status).toBe(201);
    expect(revived.body).not.toHaveProperty('issuer');
    expect((await call(a, req('DELETE', '/issuers/corp'))).status).toBe(204);
  });
});

describe('a link spec with issuer', () => {
  it('names an issuer that does not exist: 400 naming issuer, no trace', async () => {
    const a = app();
    const res = await createLink(a, { issuer: 'nope' });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ path: 'issuer', message: expect.stringMatching(/no issuer named nope/) }]);
    expect(storeWrites(a.store)).toBe(0);
    expect(a.clusters.totalWrites).toBe(0);
  });

  it('shows the issuer and its root fingerprint in the link status; the issuer lists the link', async () => {
    const a = app();
    await putIssuer(a);
    const res = await createLink(a);
    expect(res.status).toBe(201);
    expect(res.body.issuer).toEqual({ name: 'corp', rootFingerprints: [certificateFacts(root.certificate).fingerprint], chainNotAfter: certificateFacts(issuing.certificate).notAfter });
    expect((await call(a, req('GET', '/issuers/corp'))).body.links).toEqual(['mysql']);
    // The status page's listing (the state alone, no spec read) names it too.
    expect(linkRow((await listLinkSummaries(a.deps))[0]!, a.clock()).issuer).toBe('corp');
    // A link without issuer is as before: its own self-signed CA, no issuer field.
    const own = await createLink(a, { server: { cluster: 'server-cluster', service: 'pg.default.svc.cluster.local', port: 5432 } }, 'pg');
    expect(own.status).toBe(201);
    expect(own.body.issuer).toBeUndefined();
  });

  it('changes on an existing link: 200, the link is then under the new issuer and due for a CA rollover to it', async () => {
    const a = app();
    await putIssuer(a);
    await putIssuer(a, otherRootBundle, 'other');
    await createLink(a);
    for (const issuer of ['other', undefined]) {
      const res = await createLink(a, issuer ? { issuer } : {});
      expect(res.status).toBe(200);
      expect(res.body.issuer?.name).toBe(issuer);
      expect(res.body.rotation.next.reason).toMatch(/^IssuerChanged: /);
    }
  });
});

describe('PUT /issuers/{name} with {"type": "secretManager"}', () => {
  const SECRET = 'projects/acme-pki/secrets/mesh-bundle';

  /** The organisation's secret: locally, the store stands for its project. */
  async function organisationSecret(a: TestApp, text = bundle): Promise<void> {
    await a.memory.createSecret('mesh-bundle', { labels: {}, annotations: {} });
    await a.memory.addVersion('mesh-bundle', Buffer.from(text));
  }
  const putReference = (a: TestApp, body: unknown) => call(a, req('PUT', '/issuers/corp', 'application/json', JSON.stringify(body)));

  it('reads the bundle from the organisation\'s secret and never writes it; links are minted under it', async () => {
    const a = app();
    await organisationSecret(a);
    const res = await putReference(a, { type: 'secretManager', secret: SECRET });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'corp', type: 'secretManager', secret: SECRET, root: { fingerprint: certificateFacts(root.certificate).fingerprint }, links: [] });
    expect(JSON.stringify(res.body)).not.toMatch(/PRIVATE KEY|BEGIN/);
    // meshlink stored no copy of the key, and the organisation's secret is as it was.
    expect(await a.memory.listVersions(issuerSecretId('meshlink', 'corp'))).toEqual([]);
    expect(await a.memory.listVersions('mesh-bundle')).toHaveLength(1);
    const before = storeWrites(a.store);
    expect((await putReference(a, { type: 'secretManager', secret: SECRET })).status).toBe(200);
    expect(storeWrites(a.store)).toBe(before);
    const link = await createLink(a);
    expect(link.status).toBe(201);
    expect(link.body.issuer.rootFingerprints).toEqual([certificateFacts(root.certificate).fingerprint]);
    expect(await a.memory.listVersions('mesh-bundle')).toHaveLength(1);
  });

  it('reads it through the deployment\'s reader of foreign secrets when there is one (Secret Manager)', async () => {
    const a = app();
    const read: string[] = [];
    a.deps.foreignSecrets = { readForeignSecret: async (name) => (read.push(name), { version: '3', payload: Buffer.from(bundle) }) };
    expect((await putReference(a, { type: 'secretManager', secret: SECRET })).status).toBe(201);
    expect((await createLink(a)).status).toBe(201);
    expect(read).toEqual([SECRET, SECRET]);
  });

  it.each([
    ['a secret that does not exist', { type: 'secretManager', secret: SECRET }, 'secret', /not found/],
    ['a secret name that is no resource name', { type: 'secretManager', secret: 'mesh-bundle' }, 'secret', /projects\/P\/secrets\/S/],
    ['a CA pool name that is no resource name', { type: 'cas', caPool: 'projects/p/caPools/x' }, 'caPool', /projects\/P\/locations\/L\/caPools\/X/],
    ['another type', { type: 'vault' }, 'type', /secretManager/],
  ])('refuses %s: 400 naming the field, nothing written', async (_what, body, path, message) => {
    const a = app();
    const res = await putReference(a, body);
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ path, message: expect.stringMatching(message) }]);
    expect(storeWrites(a.store)).toBe(0);
  });

  it('refuses a secret holding a bad bundle: 400 naming the problem', async () => {
    const a = app();
    await organisationSecret(a, root.certificate);
    const before = storeWrites(a.store);
    const res = await putReference(a, { type: 'secretManager', secret: SECRET });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ path: 'bundle', message: expect.stringMatching(/no private key/) }]);
    expect(storeWrites(a.store)).toBe(before);
  });
});
