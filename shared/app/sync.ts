// Projects one side of a link from the store into its cluster: the Istio objects, the
// credential Secret (certificate, key and CA in one write) and the gateway Service port.
// The store is the source of truth (invariant 3); applies compare revisions, so an unchanged
// link costs reads, not writes.
import { createHash } from 'node:crypto';
import { MeshlinkError, isMeshlinkError } from '../errors.js';
import { clusterSide, serverAddress, type LinkSpec } from '../link/spec.js';
import type { Side } from '../link/names.js';
import { ANNOTATION_REVISION, formerObjectNames, objectLabels } from '../link/names.js';
import type { LinkState, SideSync } from '../link/state.js';
import { gatewayServicePorts, managedKinds, renderCredentialSecret, renderSideObjects } from '../mesh/render.js';
import type { KubeObject, ServicePort } from '../clusters/port.js';
import { readCredential, secretIdOf } from './credentials.js';
import type { AppDeps } from './deps.js';
import { errorFields } from '../log.js';
import { allSettled } from '../settle.js';

export function clusterOf(spec: LinkSpec, side: Side): string {
  return clusterSide(spec, side).cluster;
}

function objectsRevision(objects: KubeObject[]): string {
  const h = createHash('sha256');
  for (const o of objects) h.update(`${o.kind}/${o.metadata.name}=${o.metadata.annotations?.[ANNOTATION_REVISION] ?? ''};`);
  return h.digest('hex').slice(0, 16);
}

/**
 * Renders what a side's cluster must hold, reading that side's credential from the store. The
 * client's objects name the server's ingress address: `ingress` when the caller read it, else the
 * one the server's last sync recorded.
 */
export async function desiredObjects(deps: AppDeps, spec: LinkSpec, state: LinkState, side: Side, ingress?: IngressRead): Promise<{ objects: KubeObject[]; credentialVersion: string }> {
  const leaf = state.leaves[side];
  if (!leaf) throw new MeshlinkError('internal', `link ${spec.name} has no ${side} credential yet`);
  const { version, credential } = await readCredential(deps, spec.name, side, leaf.version);
  const secret = renderCredentialSecret(spec, side, credential, `${secretIdOf(deps, spec.name, side)}@${version}`);
  const mesh = renderSideObjects(spec, side, serverAddress(spec) ?? (ingress ? ingress.address : state.sync.server.address));
  // The Secret goes first: the Gateway or DestinationRule that names it must find it.
  return { objects: [secret, ...mesh], credentialVersion: version };
}

/**
 * Removes the side's objects that an earlier meshlink named otherwise (names.ts formerObjectNames):
 * those of the renamed kinds labelled for the link and side in its namespace, but for the ones
 * just applied. Runs after the apply, so the new objects and those that name them are in place
 * before the old ones go (traffic keeps a path), and only when the side's objects changed since its
 * last sync: an unchanged side costs no list, and a crash before the removal leaves the recorded
 * revision behind, so the next sync removes them.
 */
async function removeFormerObjects(deps: AppDeps, spec: LinkSpec, side: Side, objects: KubeObject[]): Promise<void> {
  const renamed = new Set(formerObjectNames(spec.name).filter((f) => f.side === side).map((f) => f.kind));
  const kinds = managedKinds(spec.istioApiVersion).filter((k) => renamed.has(k.kind));
  if (kinds.length === 0) return;
  const target = deps.clusters.target(clusterOf(spec, side));
  const keep = objects.map((o) => ({ kind: o.kind, name: o.metadata.name }));
  const removed = await target.deleteByLabel(objectLabels(spec.name, side), kinds, clusterSide(spec, side).gateway.namespace, keep);
  if (removed > 0) deps.log.info('removed link objects under former names', { link: spec.name, cluster: target.cluster, side, count: removed });
}

/** Adds the gateway Service ports a side needs: re-checked every time, as a Helm or IstioOperator re-install may have undone them. */
async function ensurePorts(deps: AppDeps, spec: LinkSpec, side: Side): Promise<ServicePort[]> {
  const ports = gatewayServicePorts(spec, side);
  const added = await deps.clusters.target(clusterOf(spec, side)).ensureServicePorts(ports.namespace, ports.name, ports.ports, ports.own);
  if (added.length > 0) deps.log.info('added gateway service ports', { link: spec.name, cluster: clusterOf(spec, side), side, ports: added.map((p) => p.port) });
  return added;
}

/** The server's ingress address as read by a caller that syncs both sides at once (syncSides). */
export interface IngressRead {
  address: string | undefined;
}

/** The server's ingress address as the client side needs it: the spec's, else the Service's, else the last one seen. */
export async function ingressAddress(deps: AppDeps, spec: LinkSpec, state: LinkState, side: Side): Promise<string | undefined> {
  const known = side === 'server' ? state.sync.server.address : undefined;
  if (side !== 'server' || serverAddress(spec)) return known;
  const ports = gatewayServicePorts(spec, side);
  const service = await deps.clusters.target(clusterSide(spec, 'server').cluster).getService(ports.namespace, ports.name);
  return service?.address ?? known;
}

/** What the side's cluster Secret presents and trusts once synced: the rotation plan orders syncs by it (invariant 1). */
function projection(state: LinkState, side: Side): Pick<SideSync, 'caGeneration' | 'trust'> {
  const leaf = state.leaves[side]!;
  return { caGeneration: leaf.caGeneration, trust: [...leaf.trust] };
}

/**
 * Brings one side's cluster in line with the store and returns the new sync record. `ingress`: the
 * server's ingress address, already read by the caller (syncSides, which syncs both sides at once:
 * the client's objects cannot wait for the server's sync to record it).
 * Throws the adapter's error (callers decide whether it is retryable).
 */
export async function syncSide(deps: AppDeps, spec: LinkSpec, state: LinkState, side: Side, ingress?: IngressRead): Promise<SideSync> {
  const target = deps.clusters.target(clusterOf(spec, side));
  // The ports, the address and the objects do not depend on each other: the writes' waits overlap.
  const [added, address, { objects, credentialVersion, applied }] = await allSettled([
    ensurePorts(deps, spec, side),
    side === 'server' && ingress ? Promise.resolve(ingress.address) : ingressAddress(deps, spec, state, side),
    desiredObjects(deps, spec, state, side, ingress).then(async (desired) => ({ ...desired, applied: await target.apply(desired.objects) })),
  ]);
  const writes = applied.filter((a) => a.outcome !== 'unchanged');
  if (writes.length > 0) deps.log.info('applied link objects', { link: spec.name, cluster: target.cluster, side, changed: writes.map((a) => `${a.kind}/${a.name}:${a.outcome}`) });
  const previous = state.sync[side];
  const projected = projection(state, side);
  const next: SideSync = { status: 'synced', version: credentialVersion, objects: objectsRevision(objects), ...(address ? { address } : {}), ...projected };
  if (previous.status !== 'synced' || previous.objects !== next.objects) await removeFormerObjects(deps, spec, side, objects);
  const nothingWritten = writes.length === 0 && added.length === 0;
  const same = previous.status === 'synced' && previous.version === next.version && previous.objects === next.objects && previous.address === next.address;
  // Keep the old record (and its time) when nothing changed, so an unchanged link writes nothing.
  if (nothingWritten && same) return { ...previous, ...projected };
  return { ...next, at: deps.clock().toISOString() };
}

/**
 * Read-only but for missing gateway ports (spec-derived, no credential): whether the side's
 * cluster already holds what syncSide would write and its record says so. An unchanged re-apply
 * checks this and syncs, under the lease, only when it does not hold: a sync outside the lease
 * could write back a credential older than one a rotation holding the lease has just synced.
 */
export async function sideIsCurrent(deps: AppDeps, spec: LinkSpec, state: LinkState, side: Side): Promise<boolean> {
  const previous = state.sync[side];
  const leaf = state.leaves[side];
  if (previous.status !== 'synced' || !leaf || previous.version !== leaf.version) return false;
  if (JSON.stringify({ caGeneration: previous.caGeneration, trust: previous.trust }) !== JSON.stringify(projection(state, side))) return false;
  await ensurePorts(deps, spec, side);
  if ((await ingressAddress(deps, spec, state, side)) !== previous.address) return false;
  const { objects } = await desiredObjects(deps, spec, state, side);
  return objectsRevision(objects) === previous.objects && (await deps.clusters.target(clusterOf(spec, side)).isCurrent(objects));
}

/**
 * Sync record for a side whose cluster could not be reached or refused. A detached side (its
 * cluster deregistered) stays detached: a retry failing there is expected, and only the
 * cluster's registration or a successful sync ends the state.
 */
export function failedSync(previous: SideSync, err: unknown, at: string): SideSync {
  const unreachable = isMeshlinkError(err, 'unavailable') || isMeshlinkError(err, 'not-found');
  const status = previous.status === 'detached' ? 'detached' : unreachable ? 'waiting-for-cluster' : 'error';
  return { ...previous, status, error: String(errorFields(err).error), at };
}
