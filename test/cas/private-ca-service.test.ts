// The CA Service adapter through the real @google-cloud/security-private-ca client over real gRPC,
// against the local fake built from the package's protos (test/fakes/cas-server.ts).
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateCaService } from '../../shared/cas/private-ca-service.js';
import { isMeshlinkError } from '../../shared/errors.js';
import { createLeafRequest } from '../../shared/pki/csr.js';
import { inspectCertificate, keyMatchesCertificate } from '../../shared/pki/inspect.js';
import { sideIdentity } from '../../shared/link/names.js';
import { startFakeCas, type FakeCas } from '../fakes/cas-server.js';

const POOL = 'projects/acme-pki/locations/europe-west1/caPools/mesh';
let fake: FakeCas;
let cas: PrivateCaService;

beforeAll(async () => {
  fake = await startFakeCas();
  await fake.addPool(POOL);
  cas = new PrivateCaService({ apiEndpoint: '127.0.0.1', port: fake.port, plaintext: true });
});

afterAll(async () => {
  await cas.close();
  await fake.close();
});

const request = async (certificateId: string, lifetimeMs = 3_600_000) => {
  const leaf = await createLeafRequest({ link: 'mysql', host: 'mysql.link.example.com', side: 'server', keyAlgorithm: 'ECDSA-P256' });
  return { leaf, request: { certificateId, csr: leaf.csr, lifetimeMs, requestId: crypto.randomUUID() } };
};

describe('PrivateCaService', () => {
  it('fetches the pool chains, each ending in its self-signed root', async () => {
    const chains = await cas.fetchCaCerts(POOL);
    expect(chains).toHaveLength(1);
    const [issuing, root] = chains[0]!.map((pem) => new X509Certificate(pem));
    expect(root!.checkIssued(root!) && root!.verify(root!.publicKey)).toBe(true);
    expect(issuing!.verify(root!.publicKey)).toBe(true);
  });

  it('issues a certificate for meshlink\'s CSR: its SANs, the asked lifetime, signed by the pool CA, the key staying with meshlink', async () => {
    const { leaf, request: req } = await request('mysql-server-1', 2 * 3_600_000);
    const issued = await cas.createCertificate(POOL, req);
    const summary = inspectCertificate(issued.certificate);
    expect(summary.dnsNames).toEqual(['mysql.link.example.com']);
    expect(summary.uris).toEqual([sideIdentity('mysql.link.example.com', 'mysql', 'server')]);
    expect(summary.notAfter.getTime() - summary.notBefore.getTime()).toBe(2 * 3_600_000);
    expect(keyMatchesCertificate(issued.certificate, leaf.privateKey)).toBe(true);
    expect(new X509Certificate(issued.certificate).verify(new X509Certificate(issued.chain[0]!).publicKey)).toBe(true);
    // The request carried the CSR only: no private key went over the wire.
    expect(JSON.stringify(fake.requests)).not.toMatch(/PRIVATE KEY/);
  });

  it('lists the pool\'s CAs with their state and chain, and issues from the one named', async () => {
    const pool = 'projects/acme-pki/locations/europe-west1/caPools/two';
    await fake.addPool(pool);
    const second = await fake.addCa(pool);
    fake.pool(pool).cas[0]!.enabled = false;
    const cas_ = await cas.listCertificateAuthorities(pool);
    expect(cas_.map((ca) => [ca.id, ca.enabled, ca.chain.at(-1)])).toEqual([
      ['ca-1', false, fake.pool(pool).cas[0]!.root],
      ['ca-2', true, second.root],
    ]);
    const issued = await cas.createCertificate(pool, { ...(await request('named')).request, issuingCaId: 'ca-2' });
    expect(issued.chain.at(-1)).toBe(second.root);
  });

  it.each([
    ['NOT_FOUND for a pool that does not exist', 'projects/acme-pki/locations/europe-west1/caPools/none', 'not-found', undefined],
    ['PERMISSION_DENIED for a pool the caller may not use', 'projects/acme-pki/locations/europe-west1/caPools/denied', 'permission-denied', (f: FakeCas, pool: string) => (f.pool(pool).denied = true)],
    ['RESOURCE_EXHAUSTED when the pool\'s quota is spent', 'projects/acme-pki/locations/europe-west1/caPools/spent', 'unavailable', (f: FakeCas, pool: string) => (f.pool(pool).quota = 0)],
  ])('translates %s', async (_what, pool, code, setup) => {
    if (setup) {
      await fake.addPool(pool);
      setup(fake, pool);
    }
    const err = await cas.createCertificate(pool, (await request(`c-${code}`)).request).catch((e: unknown) => e);
    expect(isMeshlinkError(err, code as never), String(err)).toBe(true);
    expect(String(err)).toContain(pool);
    if (code !== 'unavailable') expect(isMeshlinkError(await cas.fetchCaCerts(pool).catch((e: unknown) => e), code as never)).toBe(true);
  });

  it('refuses a malformed pool name before any call, and plaintext to anything but loopback', async () => {
    const before = fake.requests.length;
    await expect(cas.fetchCaCerts('projects/p/caPools/x')).rejects.toMatchObject({ code: 'invalid-argument' });
    expect(fake.requests.length).toBe(before);
    expect(() => new PrivateCaService({ apiEndpoint: 'privateca.googleapis.com', plaintext: true })).toThrow(/loopback/);
  });
});
