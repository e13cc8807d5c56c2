// Where a spec puts a link in its clusters, and which places an update leaves behind. Pure.
import { SIDES } from './names.js';
import { clusterSide, clusterSides, DEFAULT_GATEWAY_NAMESPACE, GATEWAY_DEFAULTS, ISTIO_API_VERSIONS, isDnsLabel, type LinkSpec } from './spec.js';
import type { LinkState, StalePlace } from './state.js';

/** Each side's objects (in its gateway namespace), then the server's port on its ingress Service; none on the partner's side. */
export function linkPlaces(spec: LinkSpec): StalePlace[] {
  const sides = clusterSides(spec);
  const objects = sides.map((side): StalePlace => {
    const s = clusterSide(spec, side);
    return { what: 'objects', side, cluster: s.cluster, namespace: s.gateway.namespace };
  });
  if (!sides.includes('server')) return objects;
  const server = clusterSide(spec, 'server');
  return [...objects, { what: 'port', cluster: server.cluster, namespace: server.gateway.namespace, service: server.gateway.service }];
}

/** What clearing a link's places needs of its spec. */
export type PlaceOwner = Pick<LinkSpec, 'name' | 'istioApiVersion'>;

type Raw = Record<string, unknown>;
const asRaw = (value: unknown): Raw => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Raw) : {});
const labelOr = (value: unknown, fallback: string): string => (isDnsLabel(value) ? value : fallback);

/**
 * Where a stored spec that no longer validates (stored by older code) put the link, for deleting
 * or moving it: the clusters from the state (what was synced), each gateway namespace and the
 * ingress Service from the document where they still read as names, else the defaults.
 */
export function storedPlaces(name: string, doc: unknown, state: Pick<LinkState, 'clientCluster' | 'serverCluster' | 'partner'>): { owner: PlaceOwner; places: StalePlace[] } {
  const istioApiVersion = ISTIO_API_VERSIONS.find((v) => v === asRaw(doc).istioApiVersion) ?? ISTIO_API_VERSIONS[0];
  const gateway = (side: 'client' | 'server') => asRaw(asRaw(asRaw(doc)[side]).gateway);
  const namespace = (side: 'client' | 'server') => labelOr(gateway(side).namespace, DEFAULT_GATEWAY_NAMESPACE);
  const cluster = { client: state.clientCluster, server: state.serverCluster };
  // The side a partner runs (the state says which) has no place of ours, as in linkPlaces.
  const sides = SIDES.filter((side) => side !== state.partner?.side);
  const port: StalePlace[] = sides.includes('server')
    ? [{ what: 'port', cluster: state.serverCluster, namespace: namespace('server'), service: labelOr(gateway('server').service, GATEWAY_DEFAULTS.server.service) }]
    : [];
  return {
    owner: { name, istioApiVersion },
    places: [...sides.map((side): StalePlace => ({ what: 'objects', side, cluster: cluster[side], namespace: namespace(side) })), ...port],
  };
}

/**
 * A place as a delete by label sees it: a side's objects once per cluster (the delete takes every
 * namespace), a port once per Service.
 */
export function clusterWideKey(place: StalePlace): string {
  return JSON.stringify(place.what === 'objects' ? [place.what, place.side, place.cluster] : [place.what, place.cluster, place.namespace, place.service]);
}

function keyOf(place: StalePlace): string {
  return JSON.stringify(place.what === 'objects' ? [place.what, place.side, place.cluster, place.namespace] : [place.what, place.cluster, place.namespace, place.service]);
}

/**
 * The places `previous` used that `next` does not, added to those still `pending`, each once; a
 * place `next` uses again is dropped (moving back must not delete the link). The egress port is
 * shared by every link through that gateway and is never a place of one link. A new gateway
 * port on the same Service is no place either: that Service's port is moved in place when synced.
 */
export function stalePlaces(previous: LinkSpec | readonly StalePlace[], next: LinkSpec, pending: readonly StalePlace[] = []): StalePlace[] {
  const seen = new Set(linkPlaces(next).map(keyOf));
  return [...pending, ...('name' in previous ? linkPlaces(previous) : previous)].filter((place) => {
    const key = keyOf(place);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
