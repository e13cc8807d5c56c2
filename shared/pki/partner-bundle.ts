// A partner's CA bundle (the `caCertificates` of an external side): read and judged with
// node:crypto only, so the spec can check it without loading the minting library.
import type { X509Certificate } from 'node:crypto';
import { readPemCertificates, subjectOf } from './pem-certificates.js';

export interface PartnerCa {
  subject: string;
  notAfter: Date;
}

/** The CA certificates of a bundle, or why it is not one: not PEM, unreadable, or a certificate that is no CA. */
export function readPartnerBundle(pem: string): { cas: PartnerCa[] } | { error: string } {
  let certificates: X509Certificate[];
  try {
    certificates = readPemCertificates(pem);
  } catch (err) {
    const message = (err as Error).message;
    return { error: message.startsWith('malformed PEM') ? 'must be PEM: a malformed CERTIFICATE block' : message };
  }
  if (certificates.length === 0) return { error: 'must be PEM: one or more -----BEGIN CERTIFICATE----- blocks' };
  const cas: PartnerCa[] = [];
  for (const [i, cert] of certificates.entries()) {
    if (!cert.ca) return { error: `certificate ${i + 1} (${subjectOf(cert)}) is not a CA certificate (basicConstraints CA:TRUE)` };
    cas.push({ subject: subjectOf(cert), notAfter: new Date(cert.validTo) });
  }
  return { cas };
}

/** The earliest expiry among a bundle's CAs: when the partner's trust first shrinks. */
export function bundleExpiry(cas: readonly PartnerCa[]): Date | undefined {
  return cas.reduce<Date | undefined>((min, ca) => (!min || ca.notAfter < min ? ca.notAfter : min), undefined);
}
