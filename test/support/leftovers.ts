// What is left of a link: every store secret (claims included), every claim kept outside the store
// (a bucket), and what the clusters hold for it.
import { LABEL_LINK, objectNames } from '../../shared/link/names.js';
import type { SecretStore } from '../../shared/store/port.js';
import type { ClaimStore } from '../../shared/store/claims/port.js';
import type { MemoryClusters } from './memory-clusters.js';

export async function leftOf(app: { store: SecretStore; clusters: MemoryClusters; deps?: { claims?: ClaimStore } }, link = 'mysql'): Promise<string[]> {
  const out = (await app.store.listSecrets({ labels: {} })).secrets.map((s) => `store ${s.id}`);
  for (const claim of (await app.deps?.claims?.listOutsideStore({})) ?? []) out.push(`claim ${claim.id}`);
  for (const [name, c] of app.clusters.clusters) {
    for (const o of c.objects.values()) if (o.metadata.labels?.[LABEL_LINK] === link) out.push(`${name} ${o.kind} ${o.metadata.name}`);
    for (const s of c.services.values()) for (const p of s.ports) if (p.name === objectNames(link).ingressServicePort) out.push(`${name} port ${p.port}`);
  }
  return out.sort();
}
