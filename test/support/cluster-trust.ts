// Invariant 1 as the clusters see it: each side's cluster Secret presents a certificate (tls.crt)
// that chains to a CA in the peer's cluster Secret ca.crt. Read straight from the in-memory
// clusters, so it checks what a gateway would load through SDS, not what the state says.
import { X509Certificate } from 'node:crypto';
import { credentialName, type Side } from '../../shared/link/names.js';
import { chainsToAny, inspectCertificate, splitPemBundle } from '../../shared/pki/inspect.js';
import type { MemoryClusters } from './memory-clusters.js';

export interface ClusterCredential {
  'tls.crt': string;
  'tls.key': string;
  'ca.crt': string;
}

const CLUSTER_OF: Record<Side, string> = { client: 'client-cluster', server: 'server-cluster' };

/** The credential a side's gateway would load now, or undefined if its Secret is not there. */
export function clusterCredential(clusters: MemoryClusters, link: string, side: Side, namespace = 'istio-system'): ClusterCredential | undefined {
  const secret = clusters.target(CLUSTER_OF[side]).get('Secret', namespace, credentialName(link, side)) as { data?: Record<string, string> } | undefined;
  if (!secret?.data) return undefined;
  const decode = (key: string) => Buffer.from(secret.data![key] ?? '', 'base64').toString('utf8');
  return { 'tls.crt': decode('tls.crt'), 'tls.key': decode('tls.key'), 'ca.crt': decode('ca.crt') };
}

/** Each direction of a handshake: the side presenting its certificate, and the peer whose ca.crt must verify it. */
function directions(clusters: MemoryClusters, link: string) {
  const creds = { server: clusterCredential(clusters, link, 'server'), client: clusterCredential(clusters, link, 'client') };
  return (
    [
      ['server', 'client'],
      ['client', 'server'],
    ] as const
  ).map(([side, peer]) => ({ side, peer, own: creds[side], other: creds[peer] }));
}

/** Violations of invariant 1 between the two clusters of a link (empty when it holds). */
export function trustViolations(clusters: MemoryClusters, link: string): string[] {
  const out: string[] = [];
  for (const { side, peer, own, other } of directions(clusters, link)) {
    if (!own || !other) continue; // a side without a Secret presents nothing
    if (!chainsToAny(own['tls.crt'], other['ca.crt'])) {
      out.push(`${side} presents ${inspectCertificate(own['tls.crt']).issuer}, which the ${peer} ca.crt (${splitPemBundle(other['ca.crt']).length} CA) does not hold`);
    }
  }
  return out;
}

const validAt = (certificate: X509Certificate, at: Date) => new Date(certificate.validFrom) <= at && at < new Date(certificate.validTo);

/** Parsed certificates and signature checks, by PEM: a simulation checks the same Secrets at many instants. */
const parsed = new Map<string, X509Certificate>();
const signed = new Map<string, boolean>();
function certificate(pem: string): X509Certificate {
  if (parsed.size > 2_000) parsed.clear();
  let c = parsed.get(pem);
  if (!c) parsed.set(pem, (c = new X509Certificate(pem)));
  return c;
}
function signs(caPem: string, leafPem: string): boolean {
  if (signed.size > 2_000) signed.clear();
  const key = `${caPem}\n${leafPem}`;
  let ok = signed.get(key);
  if (ok === undefined) {
    const [ca, leaf] = [certificate(caPem), certificate(leafPem)];
    signed.set(key, (ok = leaf.checkIssued(ca) && leaf.verify(ca.publicKey)));
  }
  return ok;
}

/**
 * Would a handshake between the two gateways succeed at `at`, by chain verification? Each side's
 * certificate must be valid then and chain (through the certificates it presents with it, each valid
 * then) to a CA of the peer's ca.crt that is valid then too
 * (what the TLS stack checks; the data plane itself cannot run on a manual clock). Empty when both
 * directions verify; a side without a Secret is a failure.
 */
export function handshakeFailures(clusters: MemoryClusters, link: string, at: Date): string[] {
  const out: string[] = [];
  for (const { side, peer, own, other } of directions(clusters, link)) {
    if (!own || !other) {
      out.push(`${own ? peer : side} has no Secret`);
      continue;
    }
    const when = at.toISOString();
    // The presented chain (a leaf alone, or under an issuer: leaf, link CA, the organisation's
    // chain), walked up until a CA of the peer's ca.crt signs it; each certificate on the way, and
    // the anchor, must be valid at `at`.
    const presented = splitPemBundle(own['tls.crt']);
    const anchors = splitPemBundle(other['ca.crt']);
    let current = presented[0]!;
    const path: string[] = [];
    let anchor: string | undefined;
    for (;;) {
      path.push(current);
      anchor = anchors.find((pem) => signs(pem, current));
      const next = anchor ? undefined : presented.find((pem) => !path.includes(pem) && signs(pem, current));
      if (!next) break;
      current = next;
    }
    const leaf = certificate(presented[0]!);
    if (!validAt(leaf, at)) out.push(`at ${when} the ${side} certificate is not valid (${leaf.validFrom} to ${leaf.validTo})`);
    for (const pem of path.slice(1)) {
      const c = certificate(pem);
      if (!validAt(c, at)) out.push(`at ${when} ${c.subject} in the ${side} chain is not valid (${c.validFrom} to ${c.validTo})`);
    }
    if (!anchor) out.push(`at ${when} no CA of the ${peer} ca.crt signed the ${side} certificate${path.length > 1 ? ' or its chain' : ''}`);
    else if (!validAt(certificate(anchor), at)) out.push(`at ${when} the CA of the ${side} certificate is not valid (${certificate(anchor).validFrom} to ${certificate(anchor).validTo})`);
  }
  return out;
}

/** Subjects of the CAs in a side's cluster ca.crt, e.g. to see which generations it trusts. */
export function clusterTrustSubjects(clusters: MemoryClusters, link: string, side: Side): string[] {
  const cred = clusterCredential(clusters, link, side);
  return cred ? splitPemBundle(cred['ca.crt']).map((pem) => inspectCertificate(pem).subject) : [];
}
