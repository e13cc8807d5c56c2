// Projects one side of a link from the store into its cluster: the Istio objects, the
// credential Secret (certificate, key and CA in one write) and the gateway Service port.
// The store is the source of truth (invariant 3); applies compare revisions, so an unchanged
// link costs reads, not writes.
import { createHash } from 'node:crypto';
import { MeshlinkError, isMeshlinkError } from '../errors.js';
import type { LinkSpec } from '../link/spec.js';
import type { Side } from '../link/names.js';
import { ANNOTATION_REVISION } from '../link/names.js';
import type { LinkState, SideSync } from '../link/state.js';
import { gatewayServicePorts, renderClientObjects, renderCredentialSecret, renderServerObjects } from '../mesh/render.js';
import type { KubeObject } from '../clusters/port.js';
import { readCredential, secretIdOf } from './credentials.js';
import type { AppDeps } from './deps.js';
import { errorFields } from '../log.js';

export function clusterOf(spec: LinkSpec, side: Side): string {
  return side === 'client' ? spec.client.cluster : spec.server.cluster;
}

function objectsRevision(objects: KubeObject[]): string {
  const h = createHash('sha256');
  for (const o of objects) h.update(`${o.kind}/${o.metadata.name}=${o.metadata.annotations?.[ANNOTATION_REVISION] ?? ''};`);
  return h.digest('hex').slice(0, 16);
}

/** Renders what a side's cluster must hold, reading that side's credential from the store. */
export async function desiredObjects(deps: AppDeps, spec: LinkSpec, state: LinkState, side: Side): Promise<{ objects: KubeObject[]; credentialVersion: string }> {
  const leaf = state.leaves[side];
  if (!leaf) throw new MeshlinkError('internal', `link ${spec.name} has no ${side} credential yet`);
  const { version, credential } = await readCredential(deps, spec.name, side, leaf.version);
  const secret = renderCredentialSecret(spec, side, credential, `${secretIdOf(deps, spec.name, side)}@${version}`);
  const mesh = side === 'server' ? renderServerObjects(spec) : renderClientObjects(spec, { address: spec.server.address ?? state.sync.server.address });
  // The Secret goes first: the Gateway or DestinationRule that names it must find it.
  return { objects: [secret, ...mesh], credentialVersion: version };
}

/**
 * Brings one side's cluster in line with the store and returns the new sync record.
 * Throws the adapter's error (callers decide whether it is retryable).
 */
export async function syncSide(deps: AppDeps, spec: LinkSpec, state: LinkState, side: Side): Promise<SideSync> {
  const cluster = clusterOf(spec, side);
  const target = deps.clusters.target(cluster);
  const log = deps.log.with({ link: spec.name, cluster });
  const ports = gatewayServicePorts(spec, side);
  // The port may have been undone by a Helm or IstioOperator re-install: re-check every time.
  const added = await target.ensureServicePorts(ports.namespace, ports.name, ports.ports, ports.own);
  if (added.length > 0) log.info('added gateway service ports', { side, ports: added.map((p) => p.port) });
  let address = side === 'server' ? state.sync.server.address : undefined;
  if (side === 'server' && !spec.server.address) {
    const service = await target.getService(ports.namespace, ports.name);
    address = service?.address ?? address;
  }
  const { objects, credentialVersion } = await desiredObjects(deps, spec, state, side);
  const applied = await target.apply(objects);
  const writes = applied.filter((a) => a.outcome !== 'unchanged');
  if (writes.length > 0) log.info('applied link objects', { side, changed: writes.map((a) => `${a.kind}/${a.name}:${a.outcome}`) });
  const previous = state.sync[side];
  // What the cluster Secret now presents and trusts: the rotation plan orders syncs by it (invariant 1).
  const leaf = state.leaves[side]!;
  const projected = { caGeneration: leaf.caGeneration, trust: [...leaf.trust] };
  const next: SideSync = { status: 'synced', version: credentialVersion, objects: objectsRevision(objects), ...(address ? { address } : {}), ...projected };
  const nothingWritten = writes.length === 0 && added.length === 0;
  const same = previous.status === 'synced' && previous.version === next.version && previous.objects === next.objects && previous.address === next.address;
  // Keep the old record (and its time) when nothing changed, so an unchanged link writes nothing.
  if (nothingWritten && same) return { ...previous, ...projected };
  return { ...next, at: deps.clock().toISOString() };
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
