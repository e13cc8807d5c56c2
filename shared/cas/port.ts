// CertificateAuthorityService: the narrow port of Google CA Service that issuers of type `cas`
// need. Plain data only (PEM text, milliseconds): no SDK type crosses it.

/** `projects/P/locations/L/caPools/X`, as CA Service names a pool. */
export const CA_POOL_NAME = /^projects\/[a-z0-9-]{1,63}\/locations\/[a-z0-9-]{1,63}\/caPools\/[A-Za-z0-9_-]{1,63}$/;

export interface CertificateRequest {
  /** The certificate's id in the pool (required by Enterprise-tier pools): `[A-Za-z0-9_-]{1,63}`. */
  certificateId: string;
  /** PEM PKCS#10 request: subject and SANs as meshlink decides them. */
  csr: string;
  lifetimeMs: number;
  /** A UUID: CA Service answers a repeat within 60 minutes with the first certificate. */
  requestId: string;
  /** The pool's CA that must issue (its id); absent: CA Service picks one of the pool's enabled CAs. */
  issuingCaId?: string;
}

/** A CA of a pool (ListCertificateAuthorities). */
export interface PoolCa {
  /** Its id in the pool (the last segment of its name). */
  id: string;
  /** Only an ENABLED CA issues. */
  enabled: boolean;
  /** Its certificate, then its issuers up to the root (PEM each). */
  chain: string[];
}

export interface IssuedCertificate {
  /** The leaf (PEM). */
  certificate: string;
  /** Its chain as CA Service returns it: issuer first, up to the root (PEM each). */
  chain: string[];
}

export interface CertificateAuthorityService {
  /** The chains of the pool's CAs (FetchCaCerts), each leaf-to-root: the pool's roots end them. */
  fetchCaCerts(caPool: string): Promise<string[][]>;
  /** The pool's CAs (ListCertificateAuthorities, every page). */
  listCertificateAuthorities(caPool: string): Promise<PoolCa[]>;
  /** Issues a certificate for a CSR in the pool (CreateCertificate). */
  createCertificate(caPool: string, request: CertificateRequest): Promise<IssuedCertificate>;
}
