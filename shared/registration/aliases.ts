// Which links a registration event concerns: comparing a link's cluster reference with the
// aliases an event gives for one cluster (a GKE cluster and its fleet membership can name the
// same cluster). Pure.
import { parseClusterRef, type ClusterRef } from '../link/cluster-ref.js';

/**
 * `exact`: the reference names the same resource as an alias (`zones/` = `locations/`,
 * `memberships/` = `gkeMemberships/`).
 * `related`: additionally a GKE cluster and a fleet membership in the same project whose cluster
 * name equals the membership name: GKE registers a cluster created with `--fleet-project` under
 * its own name, and `gcloud container fleet memberships register` suggests it. A guess, so only
 * registration uses it (a needless sync writes nothing); deregistration marks exact matches only.
 *
 * Project ids and numbers are different strings: `projects/my-proj/...` and `projects/123/...`
 * match only if the event carried both forms (the decoder adds the log's project id to names that
 * came with the number); a link written with the number needs an event that names the number.
 */
export type MatchMode = 'exact' | 'related';

function parse(ref: string): ClusterRef | undefined {
  try {
    return parseClusterRef(ref);
  } catch {
    return undefined; // a malformed reference matches nothing
  }
}

/** One canonical string per cluster resource, whatever the spelling of the reference. */
export function clusterKey(ref: string): string | undefined {
  const r = parse(ref);
  if (!r) return undefined;
  switch (r.kind) {
    case 'gke':
      return `gke:${r.project}/${r.location}/${r.cluster}`;
    case 'fleet':
      return `fleet:${r.project}/${r.location}/${r.membership}`;
    case 'kubeconfig':
      return `kubeconfig:${r.context}`;
    case 'local':
      return `local:${r.name}`;
  }
}

/** `project/name` of a GKE cluster or fleet membership, for the related match. */
function projectAndName(r: ClusterRef | undefined): string | undefined {
  if (r?.kind === 'gke') return `${r.project}/${r.cluster}`;
  if (r?.kind === 'fleet') return `${r.project}/${r.membership}`;
  return undefined;
}

/** How `ref` matches one of the aliases, or undefined when it does not. */
export function matchCluster(ref: string, aliases: readonly string[], mode: MatchMode): MatchMode | undefined {
  const key = clusterKey(ref);
  if (key === undefined) return undefined;
  if (aliases.some((a) => clusterKey(a) === key)) return 'exact';
  if (mode === 'exact') return undefined;
  const r = parse(ref);
  const mine = projectAndName(r);
  if (!mine || !r) return undefined;
  const related = aliases.some((a) => {
    const other = parse(a);
    return other !== undefined && other.kind !== r.kind && projectAndName(other) === mine;
  });
  return related ? 'related' : undefined;
}
