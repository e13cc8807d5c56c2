// The Prober port: dial a link's server end as its egress gateway would (SNI the host, the client
// credential presented, the served chain verified against the credential's ca.crt and the pinned
// identities) and tell what was served. Plain data; the adapter is tls-probe.ts.
import type { SdsCredential } from '../pki/types.js';

export interface ProbeRequest {
  /** IPv4 address or DNS name of the ingress gateway (or the partner's server). */
  address: string;
  port: number;
  /** SNI: the link's host. */
  servername: string;
  /** What the egress presents (tls.crt, tls.key) and trusts (ca.crt). Never logged or returned. */
  credential: SdsCredential;
  /** The served leaf must carry one of these SANs (DNS or URI), as the DestinationRule pins it. */
  subjectAltNames: string[];
  /** The whole dial, connect to verdict. */
  timeoutMs: number;
}

/** Why a probe failed: nothing listens, no answer in time, no route or name, TLS refused, or a certificate we do not accept. */
export type ProbeErrorKind = 'refused' | 'timeout' | 'unreachable' | 'handshake' | 'wrong-certificate';

/** The served leaf as read from the handshake. */
export interface ServedCertificate {
  /** SHA-256 of the DER, lowercase hex (as the status shows stored leaves). */
  fingerprint: string;
  notAfter: string;
  subject: string;
  subjectAltNames: string[];
}

export interface ProbeObservation {
  ok: boolean;
  error?: { kind: ProbeErrorKind; message: string };
  /** From the dial to the verdict. */
  latencyMs: number;
  /** Present whenever a handshake got as far as the server's certificate (also when it was refused). */
  served?: ServedCertificate;
}

export interface Prober {
  probe(request: ProbeRequest): Promise<ProbeObservation>;
}
