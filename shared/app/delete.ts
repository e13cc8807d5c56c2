// Use-case: delete a link. Removes its objects from both clusters (by label), its port from the
// ingress gateway Service and whatever updates left elsewhere (LinkState.stale), then deletes its
// secrets from the store, the link record last so that a crash half-way leaves a link that a
// second DELETE finishes.
import { isMeshlinkError, MeshlinkError } from '../errors.js';
import type { StoreRole } from '../link/names.js';
import type { StalePlace } from '../link/state.js';
import { linkPlaces } from '../link/places.js';
import type { AppDeps } from './deps.js';
import { secretIdOf } from './credentials.js';
import { loadLink, withLease } from './link-record.js';
import { clearPlace, clearPlaces } from './prune.js';
import { releaseGatewayPort } from './port-claim.js';
import { readSpec } from './provision.js';

export async function deleteLink(deps: AppDeps, name: string): Promise<void> {
  const record = await loadLink(deps, name);
  if (!record) throw new MeshlinkError('not-found', `link ${name} not found`);
  await withLease(deps, record, async (r) => {
    if (r.state.specVersion) {
      const spec = await readSpec(deps, r);
      // Where the link is (objects from every namespace of its clusters), then where updates left
      // it, but for objects those cluster-wide deletes already took (same cluster and side).
      const here = linkPlaces(spec);
      for (const place of here) await clearPlace(deps, spec, place, true);
      const cleared = (p: StalePlace) => p.what === 'objects' && here.some((h) => h.what === 'objects' && h.cluster === p.cluster && h.side === p.side);
      // Best effort: a cluster the link moved away from may be gone for good, and must not keep
      // the link from being deleted; what is left is logged.
      await clearPlaces(deps, spec, (r.state.stale ?? []).filter((p) => !cleared(p)));
    }
    // A partner's server holds no port of ours.
    if (r.state.partner?.side !== 'server') await releaseGatewayPort(deps, name, { cluster: r.state.serverCluster, port: r.state.gatewayPort });
    for (const role of ['client', 'server', 'ca'] as StoreRole[]) {
      try {
        await deps.store.deleteSecret(secretIdOf(deps, name, role));
      } catch (err) {
        if (!isMeshlinkError(err, 'not-found')) throw err;
      }
    }
  });
  // The lease was released by withLease; now the record itself goes.
  await deps.store.deleteSecret(record.secretId);
  deps.log.info('deleted link', { link: name });
}
