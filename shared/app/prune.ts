// Clearing what a link left where an update moved it from (LinkState.stale): its objects and
// credential Secret in the old namespace or cluster, its port on the old ingress gateway Service.
//
// Why in the state: the places are recorded in the same save as the new spec, so a process dying
// at any point after loses nothing. The sides are marked pending then, which makes the link due:
// the next apply, the rotation sweep or the cluster's registration syncs them and clears the
// places. Clearing waits for both sides to be synced at the new places (the client may still dial
// the old server address until it is), so traffic always keeps a path, and it is idempotent:
// deletes by label in one namespace, port removal by name, each harmless to repeat. A place whose
// cluster does not answer stays, with the time of the attempt (`staleFailedAt`): the rotation
// plan makes the link due again `syncRetryMs` later (its `clear-stale-places` step, which calls
// pruneStale), and the next apply or the registration of that cluster tries at once.
import { isMeshlinkError } from '../errors.js';
import { objectLabels, objectNames, SIDES } from '../link/names.js';
import type { LinkSpec } from '../link/spec.js';
import type { PlaceOwner } from '../link/places.js';
import type { LinkState, StalePlace } from '../link/state.js';
import { managedKinds } from '../mesh/render.js';
import type { AppDeps } from './deps.js';

/**
 * Removes the link's objects or port at one place. `wholeCluster` widens an objects place to every
 * namespace the target looks in (deleting a link, which may have left older namespaces behind).
 */
export async function clearPlace(deps: AppDeps, spec: PlaceOwner, place: StalePlace, wholeCluster = false): Promise<void> {
  const target = deps.clusters.target(place.cluster);
  if (place.what === 'objects') {
    // Istio kinds of one group share their objects across versions: the current version finds them all.
    const kinds = managedKinds(spec.istioApiVersion);
    const removed = await target.deleteByLabel(objectLabels(spec.name, place.side), kinds, wholeCluster ? undefined : place.namespace);
    deps.log.info('deleted link objects', { link: spec.name, cluster: place.cluster, side: place.side, ...(wholeCluster ? {} : { namespace: place.namespace }), count: removed });
    return;
  }
  // Only the ingress port is the link's own; the egress port is shared by every link through that gateway.
  const removed = await target.removeServicePorts(place.namespace, place.service, [objectNames(spec.name).ingressServicePort]);
  if (removed.length > 0) deps.log.info('removed gateway service port', { link: spec.name, cluster: place.cluster, service: `${place.namespace}/${place.service}`, ports: removed });
}

/** What clearing left: places to try again, and places given up (no try can ever reach them). */
export interface Uncleared {
  left: StalePlace[];
  abandoned: StalePlace[];
}

/**
 * Clears each place (`wholeCluster` as in clearPlace). A cluster that fails keeps its place for a
 * later try; one whose reference is malformed (stored by older code: invalid-argument from the
 * resolver) can never be reached, and its place is given up. Both are logged.
 */
export async function clearPlaces(deps: AppDeps, spec: PlaceOwner, places: readonly StalePlace[], wholeCluster = false): Promise<Uncleared> {
  const out: Uncleared = { left: [], abandoned: [] };
  for (const place of places) {
    try {
      await clearPlace(deps, spec, place, wholeCluster);
    } catch (err) {
      if (!isMeshlinkError(err)) throw err;
      const never = err.code === 'invalid-argument';
      deps.log.warn(never ? 'gave up on a place of the link: its cluster cannot be reached' : 'could not clear a place of the link', { link: spec.name, cluster: place.cluster, namespace: place.namespace, what: place.what, reason: err.message });
      (never ? out.abandoned : out.left).push(place);
    }
  }
  return out;
}

/**
 * Clears the stale places once both sides are synced; a place whose cluster fails stays recorded
 * (and logged), with the time of the failure (`staleFailedAt`: the sweep retries after
 * `syncRetryMs`). Makes no call when nothing is stale.
 */
export async function pruneStale(deps: AppDeps, spec: LinkSpec, state: LinkState): Promise<LinkState> {
  const stale = state.stale ?? [];
  if (stale.length === 0 || SIDES.some((side) => state.sync[side].status !== 'synced')) return state;
  const { left } = await clearPlaces(deps, spec, stale);
  const { stale: _cleared, staleFailedAt: _failed, ...rest } = state;
  return left.length > 0 ? { ...rest, stale: left, staleFailedAt: deps.clock().toISOString() } : rest;
}

/**
 * The state recording `stale` (after a spec update: link/places.ts stalePlaces), with each synced
 * side marked pending until it is synced with the new spec (see above). None: the list goes. A
 * new list is tried afresh (no earlier failure kept).
 */
export function withStalePlaces(state: LinkState, stale: StalePlace[]): LinkState {
  const { stale: _old, staleFailedAt: _failed, ...rest } = state;
  if (stale.length === 0) return rest;
  const sync = { ...state.sync };
  // The partner's side has nothing of ours to sync: it stays as it is.
  for (const side of SIDES) if (side !== state.partner?.side && sync[side].status === 'synced') sync[side] = { ...sync[side], status: 'pending' };
  return { ...rest, stale, sync };
}
