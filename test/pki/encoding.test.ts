// The hand-assembled DER matches what the X.509 library and OpenSSL produce for the same input.
import { createPrivateKey, createPublicKey, KeyObject, randomBytes, sign, verify, webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { KeyAlgorithm } from '../../shared/link/spec.js';
import { signCertificate, tbsCertificate, type CertificateParts } from '../../shared/pki/certificate.js';
import { readTlv } from '../../shared/pki/der.js';
import { authorityKeyIdentifier, fixedExtensions, subjectAltName, subjectKeyIdentifier } from '../../shared/pki/extensions.js';
import { ALGORITHMS } from '../../shared/pki/keys.js';
import { x509, type Extension } from '../../shared/pki/x509.js';
import { PKCS8_BEGIN } from '../support/pem-armour.js';

const { AuthorityKeyIdentifierExtension, Extension: LibraryExtension, Name, SubjectAlternativeNameExtension, SubjectKeyIdentifierExtension, X509CertificateGenerator } = x509();

const WEB_ALGORITHMS = {
  'ECDSA-P256': { generate: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } },
  'ECDSA-P384': { generate: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } },
  'RSA-2048': {
    generate: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5' },
  },
} satisfies Partial<Record<KeyAlgorithm, unknown>>;

const der = (extension: Extension) => new Uint8Array(extension.rawData);
const tbsOf = (certificate: Uint8Array) => {
  const tbs = readTlv(certificate, readTlv(certificate, 0).start);
  return certificate.subarray(readTlv(certificate, 0).start, tbs.end);
};

async function bothWays(algorithm: keyof typeof WEB_ALGORITHMS, notBefore: Date, notAfter: Date) {
  const web = WEB_ALGORITHMS[algorithm];
  const keys = (await webcrypto.subtle.generateKey(web.generate, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  const serial = randomBytes(16);
  serial[0] = 0x42;
  const issuer = new Name('CN=meshlink mysql CA 7, O=meshlink');
  const subject = new Name('CN=mysql.link.example.com');
  const keyId = randomBytes(20);
  const parts: CertificateParts = {
    serial,
    issuer: new Uint8Array(issuer.toArrayBuffer()),
    subject: new Uint8Array(subject.toArrayBuffer()),
    notBefore,
    notAfter,
    spki,
    extensions: [
      subjectKeyIdentifier(keyId),
      authorityKeyIdentifier(keyId),
      fixedExtensions().leafBasicConstraints,
      fixedExtensions().leafKeyUsage.rsa,
      fixedExtensions().leafExtendedKeyUsage.server,
      subjectAltName('mysql.link.example.com', 'spiffe://mysql.link.example.com/meshlink/mysql/server'),
    ],
  };
  const library = await X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject,
    issuer,
    notBefore,
    notAfter,
    publicKey: spki,
    signingKey: keys.privateKey,
    signingAlgorithm: web.sign,
    extensions: parts.extensions.map((e) => new LibraryExtension(new Uint8Array(e))),
  });
  const ours = signCertificate(parts, KeyObject.from(keys.privateKey), algorithm);
  return { parts, library: new Uint8Array(library.rawData), ours, keys };
}

describe('certificate assembly', () => {
  it.each([
    { algorithm: 'ECDSA-P256', notBefore: '2026-01-01T00:00:00.750Z', notAfter: '2026-02-01T12:34:56Z' },
    { algorithm: 'ECDSA-P384', notBefore: '2049-12-31T23:59:59Z', notAfter: '2050-01-01T00:00:00Z' },
    { algorithm: 'RSA-2048', notBefore: '1999-06-30T08:00:00Z', notAfter: '2099-12-31T23:59:59.999Z' },
  ] as const)('yields the TBSCertificate the library generator yields: $algorithm, $notBefore to $notAfter', async ({ algorithm, notBefore, notAfter }) => {
    const { parts, library, ours } = await bothWays(algorithm, new Date(notBefore), new Date(notAfter));
    expect(Buffer.from(tbsCertificate(parts, algorithm)).toString('hex')).toBe(Buffer.from(tbsOf(library)).toString('hex'));
    expect(Buffer.from(tbsOf(ours)).toString('hex')).toBe(Buffer.from(tbsOf(library)).toString('hex'));
  });

  it('yields the very certificate the library generator yields with a deterministic (RSA PKCS#1 v1.5) signature', async () => {
    const { library, ours } = await bothWays('RSA-2048', new Date('2026-01-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z'));
    expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(library).toString('hex'));
  });

  it.each(['ECDSA-P256', 'ECDSA-P384'] as const)('signs %s certificates that OpenSSL reads and verifies', async (algorithm) => {
    const { ours, keys } = await bothWays(algorithm, new Date('2026-01-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z'));
    const certificate = new NodeX509Certificate(ours);
    expect(certificate.verify(KeyObject.from(keys.publicKey))).toBe(true);
    expect(certificate.serialNumber).toMatch(/^42/);
  });
});

describe('extension encodings', () => {
  const keyId = Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex');
  it.each([
    { name: 'subject key identifier', ours: () => subjectKeyIdentifier(keyId), library: () => der(new SubjectKeyIdentifierExtension(keyId.toString('hex'))) },
    { name: 'authority key identifier', ours: () => authorityKeyIdentifier(keyId), library: () => der(new AuthorityKeyIdentifierExtension(keyId.toString('hex'))) },
    {
      name: 'subject alternative name',
      ours: () => subjectAltName('a.example.com', 'spiffe://a.example.com/meshlink/a/client'),
      library: () => der(new SubjectAlternativeNameExtension([{ type: 'dns', value: 'a.example.com' }, { type: 'url', value: 'spiffe://a.example.com/meshlink/a/client' }])),
    },
  ])('$name matches the library class', ({ ours, library }) => {
    expect(Buffer.from(ours()).toString('hex')).toBe(Buffer.from(library()).toString('hex'));
  });
});

describe('public keys', () => {
  it.each(['ECDSA-P256', 'ECDSA-P384', 'RSA-2048'] as const)('%s: SubjectPublicKeyInfo matches OpenSSL', async (algorithm) => {
    const { spki, privateKeyPem } = await ALGORITHMS[algorithm].generate();
    expect(Buffer.from(spki).toString('hex')).toBe(createPublicKey(privateKeyPem).export({ type: 'spki', format: 'der' }).toString('hex'));
  });
});

describe('keys with their KeyObject', () => {
  it.each(['ECDSA-P256', 'ECDSA-P384', 'RSA-2048'] as const)('%s: the PKCS#8 PEM, the KeyObject and the SubjectPublicKeyInfo are one key pair', async (algorithm) => {
    const { spki, privateKeyPem, key } = await ALGORITHMS[algorithm].generateWithObject();
    expect(privateKeyPem.startsWith(`${PKCS8_BEGIN}\n`)).toBe(true);
    const read = createPrivateKey(privateKeyPem);
    expect(read.equals(key)).toBe(true);
    expect(Buffer.from(spki).toString('hex')).toBe(createPublicKey(read).export({ type: 'spki', format: 'der' }).toString('hex'));
    const challenge = Buffer.from('challenge');
    expect(verify(null, challenge, createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }), sign(null, challenge, key))).toBe(true);
  });
});
