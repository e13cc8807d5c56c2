// Invariant 1 as the clusters see it: each side's cluster Secret presents a certificate (tls.crt)
// that chains to a CA in the peer's cluster Secret ca.crt. Read straight from the in-memory
// clusters, so it checks what a gateway would load through SDS, not what the state says.
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

/** Violations of invariant 1 between the two clusters of a link (empty when it holds). */
export function trustViolations(clusters: MemoryClusters, link: string): string[] {
  const creds = { server: clusterCredential(clusters, link, 'server'), client: clusterCredential(clusters, link, 'client') };
  const out: string[] = [];
  for (const [side, peer] of [
    ['server', 'client'],
    ['client', 'server'],
  ] as const) {
    const own = creds[side];
    const other = creds[peer];
    if (!own || !other) continue; // a side without a Secret presents nothing
    if (!chainsToAny(own['tls.crt'], other['ca.crt'])) {
      out.push(`${side} presents ${inspectCertificate(own['tls.crt']).issuer}, which the ${peer} ca.crt (${splitPemBundle(other['ca.crt']).length} CA) does not hold`);
    }
  }
  return out;
}

/** Subjects of the CAs in a side's cluster ca.crt, e.g. to see which generations it trusts. */
export function clusterTrustSubjects(clusters: MemoryClusters, link: string, side: Side): string[] {
  const cred = clusterCredential(clusters, link, side);
  return cred ? splitPemBundle(cred['ca.crt']).map((pem) => inspectCertificate(pem).subject) : [];
}
