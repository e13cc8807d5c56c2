// Invariant 6 at the edge: a spec whose object names another link's objects already hold in its
// clusters is refused with a 409 naming them, before anything is stored or written. Names of two
// links never collide (link/names.ts); what this finds is another link's object under a name of
// an earlier meshlink (not yet moved to the new names) or an object labelled by hand. The
// adapters check again at every apply, which also covers the sweep and the registration.
import { isMeshlinkError } from '../errors.js';
import { clusterSides, type LinkSpec } from '../link/spec.js';
import { sideObjectHeads } from '../mesh/render.js';
import type { AppDeps } from './deps.js';
import { clusterOf } from './sync.js';

/**
 * Throws the `conflict` of the first side whose cluster holds one of the link's names labelled
 * for another link. A cluster that cannot be read (a link made before its cluster) is let through:
 * its first apply checks.
 */
export async function assertNamesFree(deps: AppDeps, spec: LinkSpec): Promise<void> {
  for (const side of clusterSides(spec)) {
    const cluster = clusterOf(spec, side);
    const heads = sideObjectHeads(spec, side); // a spec the renderer refuses fails here, as a 400
    try {
      await deps.clusters.target(cluster).checkOwners(heads);
    } catch (err) {
      if (isMeshlinkError(err, 'conflict')) throw err;
      deps.log.info('could not check the names of a link side; its apply will', { link: spec.name, cluster, side, reason: String(err) });
    }
  }
}
