// Reading certificates back: summaries, PEM bundles, key/certificate match and issuer checks.
// Pure (node:crypto parsing and hashing, no I/O, no clock).
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import type { CertificateSummary } from './types.js';
import { decodePemBlocks, encodePem } from './pem.js';

function parse(pem: string): X509Certificate {
  return new X509Certificate(pem);
}

/** Splits `DNS:a, URI:b` (node's rendering of subjectAltName) into its names by type. */
function altNames(text: string | undefined, type: 'DNS' | 'URI'): string[] {
  if (!text) return [];
  return text
    .split(/,\s*/)
    .filter((part) => part.startsWith(`${type}:`))
    .map((part) => part.slice(type.length + 1));
}

export function inspectCertificate(pem: string): CertificateSummary {
  const cert = parse(pem);
  return {
    serialNumber: cert.serialNumber.toLowerCase(),
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    fingerprint: createHash('sha256').update(cert.raw).digest('hex'),
    dnsNames: altNames(cert.subjectAltName, 'DNS'),
    uris: altNames(cert.subjectAltName, 'URI'),
    isCa: cert.ca,
  };
}

/** Each CERTIFICATE block of a bundle, normalised to canonical PEM. */
export function splitPemBundle(bundle: string): string[] {
  return decodePemBlocks(bundle, 'CERTIFICATE').map((der) => encodePem(der, 'CERTIFICATE'));
}

/** One bundle from several, each certificate once (by fingerprint), order kept. */
export function joinPemBundle(pems: string[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const pem of pems.flatMap(splitPemBundle)) {
    const fp = createHash('sha256').update(pem).digest('hex');
    if (seen.has(fp)) continue;
    seen.add(fp);
    out.push(pem);
  }
  return out.join('');
}

export function keyMatchesCertificate(certPem: string, keyPem: string): boolean {
  try {
    return parse(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** Was `certPem` signed by the CA in `caPem` (names chain and the signature verifies)? */
export function isIssuedBy(certPem: string, caPem: string): boolean {
  try {
    const cert = parse(certPem);
    const ca = parse(caPem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** Is the certificate issued by any CA of the bundle? */
export function chainsToAny(certPem: string, caBundlePem: string): boolean {
  return splitPemBundle(caBundlePem).some((ca) => isIssuedBy(certPem, ca));
}
