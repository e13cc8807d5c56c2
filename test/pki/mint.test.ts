// Minted link sets, per key algorithm, read back with node:crypto (OpenSSL) and the X.509 library.
import { createPrivateKey, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { sideIdentity } from '../../shared/link/names.js';
import type { KeyAlgorithm } from '../../shared/link/spec.js';
import { x509 } from '../../shared/pki/x509.js';
import { HOST, LINK, mintLinkSet, type LinkSet } from './fixtures.js';
import { PKCS8_BEGIN } from '../support/pem-armour.js';

const { BasicConstraintsExtension, KeyUsageFlags, KeyUsagesExtension, X509Certificate } = x509();

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

const ALGORITHMS: { algorithm: KeyAlgorithm; keyType: string; keyDetail: Record<string, unknown>; hash: string; signature: string; leafKeyUsage: number }[] = [
  { algorithm: 'ECDSA-P256', keyType: 'ec', keyDetail: { namedCurve: 'prime256v1' }, hash: 'SHA-256', signature: 'ECDSA', leafKeyUsage: KeyUsageFlags.digitalSignature },
  { algorithm: 'ECDSA-P384', keyType: 'ec', keyDetail: { namedCurve: 'secp384r1' }, hash: 'SHA-384', signature: 'ECDSA', leafKeyUsage: KeyUsageFlags.digitalSignature },
  ...([2048, 3072, 4096] as const).map((bits) => ({
    algorithm: `RSA-${bits}` as const,
    keyType: 'rsa',
    keyDetail: { modulusLength: bits },
    hash: 'SHA-256',
    signature: 'RSASSA-PKCS1-v1_5',
    leafKeyUsage: KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment,
  })),
];

describe.each(ALGORITHMS)('a link set with $algorithm keys', ({ algorithm, keyType, keyDetail, hash, signature, leafKeyUsage }) => {
  let set: LinkSet;
  beforeAll(async () => {
    set = await mintLinkSet(algorithm);
  }, 60_000);

  it('encodes certificates as CERTIFICATE and keys as PKCS#8 PRIVATE KEY of the requested algorithm', () => {
    for (const credential of [set.ca, set.server, set.client]) {
      expect(credential.certificate).toMatch(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/);
      expect(credential.privateKey.startsWith(`${PKCS8_BEGIN}\n`)).toBe(true);
      const key = createPrivateKey(credential.privateKey);
      expect(key.asymmetricKeyType).toBe(keyType);
      expect(key.asymmetricKeyDetails).toMatchObject(keyDetail);
    }
  });

  it('pairs every certificate with its own key, per OpenSSL', () => {
    for (const credential of [set.ca, set.server, set.client]) {
      expect(new NodeX509Certificate(credential.certificate).checkPrivateKey(createPrivateKey(credential.privateKey))).toBe(true);
    }
    expect(new NodeX509Certificate(set.server.certificate).checkPrivateKey(createPrivateKey(set.client.privateKey))).toBe(false);
  });

  it('makes a self-signed CA: basicConstraints CA:true pathLen 0 and keyCertSign+cRLSign, both critical', () => {
    const ca = new NodeX509Certificate(set.ca.certificate);
    expect(ca.ca).toBe(true);
    expect(ca.subject).toBe(`CN=meshlink ${LINK} CA 1\nO=meshlink`);
    expect(ca.checkIssued(ca)).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    const parsed = new X509Certificate(set.ca.certificate);
    expect(parsed.getExtension(BasicConstraintsExtension)).toMatchObject({ critical: true, ca: true, pathLength: 0 });
    expect(parsed.getExtension(KeyUsagesExtension)).toMatchObject({ critical: true, usages: KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign });
  });

  it('signs the leaves with the CA key, using the signature matching the CA key', () => {
    const ca = new NodeX509Certificate(set.ca.certificate);
    for (const leaf of [set.server, set.client]) {
      const certificate = new NodeX509Certificate(leaf.certificate);
      expect(certificate.checkIssued(ca)).toBe(true);
      expect(certificate.verify(ca.publicKey)).toBe(true);
      expect(new X509Certificate(leaf.certificate).signatureAlgorithm).toMatchObject({ name: signature, hash: { name: hash } });
    }
    expect(new X509Certificate(set.ca.certificate).signatureAlgorithm).toMatchObject({ name: signature, hash: { name: hash } });
  });

  it.each([
    { side: 'server', eku: SERVER_AUTH },
    { side: 'client', eku: CLIENT_AUTH },
  ] as const)('gives the $side leaf CN=host, SANs DNS host + its URI identity, EKU $eku only, and no CA rights', ({ side, eku }) => {
    const leaf = new NodeX509Certificate(set[side].certificate);
    expect(leaf.subject).toBe(`CN=${HOST}`);
    expect(leaf.subjectAltName).toBe(`DNS:${HOST}, URI:${sideIdentity(HOST, LINK, side)}`);
    expect(leaf.keyUsage).toEqual([eku]);
    expect(leaf.ca).toBe(false);
    const parsed = new X509Certificate(set[side].certificate);
    expect(parsed.getExtension(BasicConstraintsExtension)).toMatchObject({ critical: true, ca: false });
    expect(parsed.getExtension(KeyUsagesExtension)).toMatchObject({ critical: true, usages: leafKeyUsage });
  });
});
