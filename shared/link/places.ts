// Where a spec puts a link in its clusters, and which places an update leaves behind. Pure.
import { clusterSide, clusterSides, type LinkSpec } from './spec.js';
import type { StalePlace } from './state.js';

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

function keyOf(place: StalePlace): string {
  return JSON.stringify(place.what === 'objects' ? [place.what, place.side, place.cluster, place.namespace] : [place.what, place.cluster, place.namespace, place.service]);
}

/**
 * The places `previous` used that `next` does not, added to those still `pending`, each once; a
 * place `next` uses again is dropped (moving back must not delete the link). The egress port is
 * shared by every link through that gateway and is never a place of one link. A new gateway
 * port on the same Service is no place either: that Service's port is moved in place when synced.
 */
export function stalePlaces(previous: LinkSpec, next: LinkSpec, pending: readonly StalePlace[] = []): StalePlace[] {
  const seen = new Set(linkPlaces(next).map(keyOf));
  return [...pending, ...linkPlaces(previous)].filter((place) => {
    const key = keyOf(place);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
