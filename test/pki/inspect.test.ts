// Reading certificates back: summaries, bundles with dedup, key matching and issuer checks.
import { createHash, webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { sideIdentity } from '../../shared/link/names.js';
import { BACKDATE_MS } from '../../shared/pki/types.js';
import { chainsToAny, inspectCertificate, isIssuedBy, joinPemBundle, keyMatchesCertificate, splitPemBundle } from '../../shared/pki/inspect.js';
import { x509 } from '../../shared/pki/x509.js';
import { DAY_MS, HOST, LINK, mintLinkSet, NOW, type LinkSet } from './fixtures.js';

let set: LinkSet;
let other: LinkSet;
beforeAll(async () => {
  set = await mintLinkSet();
  other = await mintLinkSet('ECDSA-P256', { link: 'other', host: 'other.link.example.com' });
});

const fingerprint = (pem: string) => createHash('sha256').update(new NodeX509Certificate(pem).raw).digest('hex');
/** The same PEM as another tool might write it: CRLF, 76 columns, no final newline. */
const reflowed = (pem: string) => {
  const body = pem.replace(/-----[A-Z ]+-----|\s/g, '');
  return `-----BEGIN CERTIFICATE-----\r\n${body.match(/.{1,76}/g)!.join('\r\n')}\r\n-----END CERTIFICATE-----`;
};

describe('inspectCertificate', () => {
  it('summarizes the CA', () => {
    const node = new NodeX509Certificate(set.ca.certificate);
    expect(inspectCertificate(set.ca.certificate)).toEqual({
      serialNumber: node.serialNumber.toLowerCase(),
      subject: `CN=meshlink ${LINK} CA 1, O=meshlink`,
      issuer: `CN=meshlink ${LINK} CA 1, O=meshlink`,
      notBefore: new Date(NOW.getTime() - BACKDATE_MS),
      notAfter: new Date(NOW.getTime() + 365 * DAY_MS),
      fingerprint: fingerprint(set.ca.certificate),
      dnsNames: [],
      uris: [],
      isCa: true,
    });
  });

  it.each(['server', 'client'] as const)('summarizes the %s leaf, names included', (side) => {
    const summary = inspectCertificate(set[side].certificate);
    expect(summary).toMatchObject({
      subject: `CN=${HOST}`,
      issuer: `CN=meshlink ${LINK} CA 1, O=meshlink`,
      notAfter: new Date(NOW.getTime() + 30 * DAY_MS),
      dnsNames: [HOST],
      uris: [sideIdentity(HOST, LINK, side)],
      isCa: false,
    });
    expect(summary.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(summary.fingerprint).toBe(fingerprint(set[side].certificate));
  });

  it('reads the names and the CA flag as the X.509 library reads every extension, whatever the certificate carries', async () => {
    const lib = x509();
    const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    const label = fc.stringMatching(/^[a-z0-9]{1,12}$/);
    const name = fc.oneof(
      label.map((v) => ({ type: 'dns' as const, value: `${v}.example.com` })),
      label.map((v) => ({ type: 'url' as const, value: `spiffe://${v}.example.com/ns/x/sa/${v}` })),
      label.map((v) => ({ type: 'email' as const, value: `${v}@example.com` })),
      fc.ipV4().map((v) => ({ type: 'ip' as const, value: v })),
    );
    // Extensions around the two read, in any order, critical or not; BasicConstraints absent, CA or not.
    const extensions = fc.record({
      names: fc.option(fc.array(name, { maxLength: 4 })),
      constraints: fc.option(fc.record({ ca: fc.boolean(), pathLength: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }), critical: fc.boolean() })),
      keyUsage: fc.boolean(),
      reversed: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(extensions, async ({ names, constraints, keyUsage, reversed }) => {
        const list = [
          ...(names ? [new lib.SubjectAlternativeNameExtension(names)] : []),
          ...(constraints ? [new lib.BasicConstraintsExtension(constraints.ca, constraints.ca ? constraints.pathLength : undefined, constraints.critical)] : []),
          ...(keyUsage ? [new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature, true)] : []),
          await lib.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ];
        const certificate = await lib.X509CertificateGenerator.createSelfSigned({
          serialNumber: '01',
          name: 'CN=property',
          notBefore: NOW,
          notAfter: new Date(NOW.getTime() + DAY_MS),
          keys,
          signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
          extensions: reversed ? list.reverse() : list,
        });
        const all = certificate.getExtension(lib.SubjectAlternativeNameExtension)?.names.items ?? [];
        expect(inspectCertificate(certificate.toString('pem'))).toMatchObject({
          dnsNames: all.filter((n) => n.type === 'dns').map((n) => n.value),
          uris: all.filter((n) => n.type === 'url').map((n) => n.value),
          isCa: certificate.getExtension(lib.BasicConstraintsExtension)?.ca ?? false,
        });
      }),
      { numRuns: 40 },
    );
  });

  it('reads the dates, subject, issuer and serial as the X.509 library reads them, UTCTime and GeneralizedTime alike', async () => {
    const lib = x509();
    const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    // 1950 to 2049 are UTCTime, the rest GeneralizedTime (RFC 5280 4.1.2.5), up to 9999-12-31.
    const time = fc.date({ min: new Date('1950-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => new Date(Math.floor(d.getTime() / 1000) * 1000));
    const label = fc.stringMatching(/^[a-z0-9][a-z0-9 .-]{0,20}$/);
    await fc.assert(
      fc.asyncProperty(time, time, label, fc.option(label, { nil: undefined }), fc.stringMatching(/^[0-7][0-9a-f]{1,31}$/), async (a, b, cn, org, serialNumber) => {
        const [notBefore, notAfter] = a <= b ? [a, b] : [b, a];
        const certificate = await lib.X509CertificateGenerator.createSelfSigned({
          serialNumber,
          name: `CN=${cn}${org ? `, O=${org}` : ''}`,
          notBefore,
          notAfter,
          keys,
          signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        });
        const summary = inspectCertificate(certificate.toString('pem'));
        expect({ ...summary }).toMatchObject({
          notBefore: certificate.notBefore,
          notAfter: certificate.notAfter,
          subject: certificate.subject,
          issuer: certificate.issuer,
          serialNumber: certificate.serialNumber,
        });
        expect([summary.notBefore, summary.notAfter]).toEqual([notBefore, notAfter]);
      }),
      { numRuns: 60 },
    );
  });

  it('parses a certificate with the X.509 library only once its subject, issuer or serial is asked for', () => {
    const lib = x509();
    // onInit: what the library's certificate constructor runs to parse.
    const parse = vi.spyOn(lib.X509Certificate.prototype as unknown as { onInit: (...a: unknown[]) => void }, 'onInit');
    try {
      const summary = inspectCertificate(set.server.certificate);
      expect([summary.notAfter, summary.dnsNames, summary.uris, summary.isCa, summary.fingerprint]).toHaveLength(5);
      expect(parse).not.toHaveBeenCalled();
      expect([summary.subject, summary.issuer, summary.serialNumber]).toEqual([`CN=${HOST}`, `CN=meshlink ${LINK} CA 1, O=meshlink`, new NodeX509Certificate(set.server.certificate).serialNumber.toLowerCase()]);
      expect(parse).toHaveBeenCalledTimes(1);
    } finally {
      parse.mockRestore();
    }
  });

  it('reads the first certificate of a chain and any PEM layout', () => {
    expect(inspectCertificate(reflowed(set.server.certificate) + '\n' + set.ca.certificate).fingerprint).toBe(fingerprint(set.server.certificate));
  });

  it.each([
    { name: 'no PEM block', pem: 'hello' },
    { name: 'a broken base64 body', pem: '-----BEGIN CERTIFICATE-----\n@@@\n-----END CERTIFICATE-----\n' },
    { name: 'a body that is not a certificate', pem: '-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n' },
  ])('rejects $name as invalid-argument', ({ pem }) => {
    expect(() => inspectCertificate(pem)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });
});

describe('PEM bundles', () => {
  it('splits into normalized blocks, in order, ignoring text around them', () => {
    const bundle = `# link CAs\n${reflowed(set.ca.certificate)}\nsome comment\n${other.ca.certificate}`;
    expect(splitPemBundle(bundle)).toEqual([set.ca.certificate, other.ca.certificate]);
    expect(splitPemBundle('')).toEqual([]);
  });

  it.each([
    { name: 'keeps order', input: () => [other.ca.certificate, set.ca.certificate], expected: () => [other.ca.certificate, set.ca.certificate] },
    { name: 'drops a repeated certificate, keeping the first', input: () => [set.ca.certificate, other.ca.certificate, set.ca.certificate], expected: () => [set.ca.certificate, other.ca.certificate] },
    { name: 'sees the same certificate through another PEM layout', input: () => [set.ca.certificate, reflowed(set.ca.certificate)], expected: () => [set.ca.certificate] },
    { name: 'flattens bundles given as items', input: () => [set.ca.certificate + other.ca.certificate, other.ca.certificate], expected: () => [set.ca.certificate, other.ca.certificate] },
    { name: 'joins nothing into an empty bundle', input: () => [], expected: () => [] },
  ])('joins: $name', ({ input, expected }) => {
    const joined = joinPemBundle(input());
    expect(joined).toBe(expected().join(''));
    expect(splitPemBundle(joined)).toEqual(expected());
  });
});

describe('keyMatchesCertificate', () => {
  it.each([
    { name: 'the server key with its certificate', cert: () => set.server.certificate, key: () => set.server.privateKey, matches: true },
    { name: 'the CA key with its certificate', cert: () => set.ca.certificate, key: () => set.ca.privateKey, matches: true },
    { name: 'the client key with the server certificate', cert: () => set.server.certificate, key: () => set.client.privateKey, matches: false },
    { name: 'another link CA key with this CA', cert: () => set.ca.certificate, key: () => other.ca.privateKey, matches: false },
  ])('$name: $matches', ({ cert, key, matches }) => {
    expect(keyMatchesCertificate(cert(), key())).toBe(matches);
  });

  it('rejects an unreadable key as invalid-argument', () => {
    expect(() => keyMatchesCertificate(set.server.certificate, 'not a key')).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });
});

describe('issuers', () => {
  it.each([
    { name: 'the server leaf by its CA', cert: () => set.server.certificate, ca: () => set.ca.certificate, issued: true },
    { name: 'the client leaf by its CA', cert: () => set.client.certificate, ca: () => set.ca.certificate, issued: true },
    { name: 'the CA by itself', cert: () => set.ca.certificate, ca: () => set.ca.certificate, issued: true },
    { name: 'the server leaf by another link CA', cert: () => set.server.certificate, ca: () => other.ca.certificate, issued: false },
    { name: 'the server leaf by the client leaf', cert: () => set.server.certificate, ca: () => set.client.certificate, issued: false },
  ])('isIssuedBy: $name is $issued', ({ cert, ca, issued }) => {
    expect(isIssuedBy(cert(), ca())).toBe(issued);
  });

  it('isIssuedBy looks past the names: a same-named CA with another key did not issue the leaf', async () => {
    const impostor = await mintLinkSet();
    expect(new NodeX509Certificate(impostor.ca.certificate).subject).toBe(new NodeX509Certificate(set.ca.certificate).subject);
    expect(isIssuedBy(set.server.certificate, impostor.ca.certificate)).toBe(false);
  });

  it.each([
    { name: 'a bundle holding its CA among others', bundle: () => joinPemBundle([other.ca.certificate, set.ca.certificate]), chains: true },
    { name: 'a bundle of other CAs only', bundle: () => other.ca.certificate, chains: false },
    { name: 'an empty bundle', bundle: () => '', chains: false },
  ])('chainsToAny: $name is $chains', ({ bundle, chains }) => {
    expect(chainsToAny(set.client.certificate, bundle())).toBe(chains);
  });
});
