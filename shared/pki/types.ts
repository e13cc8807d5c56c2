// Plain data exchanged with the pki module: PEM text and parsed summaries, no library types.
import type { KeyAlgorithm } from '../link/spec.js';
import type { Side } from '../link/names.js';

/** Certificates start this long before `now`, so peers whose clocks lag still accept them. */
export const BACKDATE_MS = 5 * 60_000;

/** A certificate and its private key, PEM-encoded (PKCS#8 key). */
export interface CredentialPem {
  certificate: string;
  privateKey: string;
}

/**
 * An SDS-compatible credential: exactly the keys Istio's gateway reads from a `credentialName`
 * Secret (pilot/pkg/credentials/kube/secrets.go). Stored in the same shape in the SecretStore.
 */
export interface SdsCredential {
  'tls.crt': string;
  'tls.key': string;
  /** One or more CA certificates (a bundle during a CA rollover). */
  'ca.crt': string;
}

export interface CertificateSummary {
  serialNumber: string;
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the DER, lowercase hex. */
  fingerprint: string;
  dnsNames: string[];
  uris: string[];
  isCa: boolean;
}

export interface MintCaRequest {
  link: string;
  host: string;
  keyAlgorithm: KeyAlgorithm;
  ttlMs: number;
  now: Date;
  /** 1 for the first CA of a link, +1 per rollover; part of the subject. */
  generation: number;
  /**
   * The organisation's issuing CA (an issuer): the link CA is then an intermediate it signs,
   * ending no later than `notAfter` (the earliest expiry of the issuing CA's chain). Without it
   * the link CA is self-signed.
   */
  parent?: { ca: CredentialPem; notAfter: Date };
}

export interface MintLeafRequest {
  ca: CredentialPem;
  link: string;
  host: string;
  side: Side;
  keyAlgorithm: KeyAlgorithm;
  ttlMs: number;
  now: Date;
}
