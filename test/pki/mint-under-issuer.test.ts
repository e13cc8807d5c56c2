// A link CA under an organisation's issuing CA: an intermediate (pathLen 0, name-constrained to
// the link's host) that never outlives the issuing chain, and leaves that chain up to the root.
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { chainsToAny, inspectCertificate, isIssuedBy } from '../../shared/pki/inspect.js';
import { parseIssuerBundle, type IssuerBundle } from '../../shared/pki/issuer-bundle.js';
import { mintCa, mintLeaf } from '../../shared/pki/mint.js';
import { nameConstraints } from '../../shared/pki/extensions.js';
import { x509 } from '../../shared/pki/x509.js';
import { opensslIntermediate, opensslRoot, pemBundle } from '../support/openssl-ca.js';
import { caRequest, DAY_MS, HOST, leafRequest } from './fixtures.js';

const NOW = new Date(Date.now() + 60_000);
let bundle: IssuerBundle;

beforeAll(() => {
  const root = opensslRoot('/CN=Bank Root', { key: 'rsa' });
  bundle = parseIssuerBundle(pemBundle(opensslIntermediate(root, '/CN=Bank Mesh CA', { days: 90 }), root), NOW);
});

const parent = () => ({ ca: bundle.issuing, notAfter: bundle.notAfter });

describe('mintCa under an issuing CA', () => {
  it('is an intermediate signed by the issuing CA: CA, pathLen 0, name-constrained to the host', async () => {
    const ca = await mintCa(caRequest({ now: NOW, parent: parent() }));
    expect(isIssuedBy(ca.certificate, bundle.issuing.certificate)).toBe(true);
    const { BasicConstraintsExtension, X509Certificate: Certificate } = x509();
    const parsed = new Certificate(ca.certificate);
    expect(parsed.getExtension(BasicConstraintsExtension)).toMatchObject({ ca: true, pathLength: 0 });
    expect(Buffer.from(parsed.rawData).includes(Buffer.from(nameConstraints(HOST)))).toBe(true);
    expect(inspectCertificate(ca.certificate).issuer).toBe('CN=Bank Mesh CA');
  });

  it('ends with the issuing chain when the CA TTL reaches past it, and its leaves do too', async () => {
    const ca = await mintCa(caRequest({ now: NOW, ttlMs: 365 * DAY_MS, parent: parent() }));
    const capAt = Math.floor(bundle.notAfter.getTime() / 1000) * 1000;
    expect(inspectCertificate(ca.certificate).notAfter.getTime()).toBe(capAt);
    const leaf = await mintLeaf(leafRequest(ca, 'server', { now: new Date(capAt - DAY_MS), ttlMs: 30 * DAY_MS }));
    expect(inspectCertificate(leaf.certificate).notAfter.getTime()).toBeLessThanOrEqual(capAt);
  });

  it('is refused once the issuing chain has expired', async () => {
    await expect(mintCa(caRequest({ now: new Date(bundle.notAfter.getTime() + 1000), parent: parent() }))).rejects.toThrow(/issuing CA/);
  });

  it('signs leaves that verify to the root through the link CA (and not without it)', async () => {
    const ca = await mintCa(caRequest({ now: NOW, parent: parent() }));
    const leaf = await mintLeaf(leafRequest(ca, 'client', { now: NOW }));
    expect(chainsToAny(leaf.certificate + ca.certificate + bundle.chain, bundle.root)).toBe(true);
    expect(chainsToAny(leaf.certificate, bundle.root)).toBe(false);
    expect(new X509Certificate(leaf.certificate).checkIssued(new X509Certificate(ca.certificate))).toBe(true);
  });
});
