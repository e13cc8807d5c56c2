// A partner's CA bundle (the `caCertificates` of an external side): read and judged with
// node:crypto only, so the spec can check it without loading the minting library.
import { X509Certificate } from 'node:crypto';
import { decodePemBlocks } from './pem.js';

export interface PartnerCa {
  subject: string;
  notAfter: Date;
}

/** The CA certificates of a bundle, or why it is not one: not PEM, unreadable, or a certificate that is no CA. */
export function readPartnerBundle(pem: string): { cas: PartnerCa[] } | { error: string } {
  let blocks: Buffer[];
  try {
    blocks = decodePemBlocks(pem, 'CERTIFICATE');
  } catch {
    return { error: 'must be PEM: a malformed CERTIFICATE block' };
  }
  if (blocks.length === 0) return { error: 'must be PEM: one or more -----BEGIN CERTIFICATE----- blocks' };
  const cas: PartnerCa[] = [];
  for (const [i, der] of blocks.entries()) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      return { error: `certificate ${i + 1} is not a readable X.509 certificate` };
    }
    if (!cert.ca) return { error: `certificate ${i + 1} (${cert.subject.replace(/\n/g, ', ')}) is not a CA certificate (basicConstraints CA:TRUE)` };
    cas.push({ subject: cert.subject.replace(/\n/g, ', '), notAfter: new Date(cert.validTo) });
  }
  return { cas };
}

/** The earliest expiry among a bundle's CAs: when the partner's trust first shrinks. */
export function bundleExpiry(cas: readonly PartnerCa[]): Date | undefined {
  return cas.reduce<Date | undefined>((min, ca) => (!min || ca.notAfter < min ? ca.notAfter : min), undefined);
}
