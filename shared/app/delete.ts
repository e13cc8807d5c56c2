// Use-case: delete a link. Removes its objects from both clusters (by label) and its port from
// the ingress gateway Service, then deletes its secrets from the store, the link record last so
// that a crash half-way leaves a link that a second DELETE finishes.
import { MeshlinkError } from '../errors.js';
import { objectLabels, objectNames, type StoreRole } from '../link/names.js';
import { managedKinds } from '../mesh/render.js';
import type { AppDeps } from './deps.js';
import { secretIdOf } from './credentials.js';
import { loadLink, withLease } from './link-record.js';
import { readSpec, SIDES } from './provision.js';
import { clusterOf } from './sync.js';
import { isMeshlinkError } from '../errors.js';

export async function deleteLink(deps: AppDeps, name: string): Promise<void> {
  const record = await loadLink(deps, name);
  if (!record) throw new MeshlinkError('not-found', `link ${name} not found`);
  await withLease(deps, record, async (r) => {
    if (r.state.specVersion) {
      const spec = await readSpec(deps, r);
      for (const side of SIDES) {
        const target = deps.clusters.target(clusterOf(spec, side));
        const removed = await target.deleteByLabel(objectLabels(name, side), managedKinds(spec.istioApiVersion));
        deps.log.info('deleted link objects', { link: name, cluster: target.cluster, side, count: removed });
      }
      // The egress port is shared by every link through that gateway: only the ingress port is the link's own.
      const server = deps.clusters.target(spec.server.cluster);
      await server.removeServicePorts(spec.server.gateway.namespace, spec.server.gateway.service, [objectNames(name).ingressServicePort]);
    }
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
