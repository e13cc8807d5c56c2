// Use-case: create or update a link from a spec. Mints the CA and both leaves on first sight,
// stores everything, then projects both sides into their clusters. Repeating the same spec
// changes nothing (invariant 2); a changed mutable field re-renders, and what a move leaves in
// the old namespace, cluster or Service goes once the new places are synced (prune.ts); a changed
// host is refused.
import { createHash } from 'node:crypto';
import { MeshlinkError } from '../errors.js';
import { clusterSide, clusterSides, DEFAULT_GATEWAY_NAMESPACE, externalSide, GATEWAY_DEFAULTS, immutableFieldsChanged, nipIoHost, parseLinkSpec, partnerName, serverPort, specDocument, type LinkSpec } from '../link/spec.js';
import type { Side } from '../link/names.js';
import { SIDES } from '../link/names.js';
import { retireVersions, trustedGenerations, type LinkState } from '../link/state.js';
import { LOG_EVENTS } from '../log-events.js';
import { canonicalJson } from '../mesh/revision.js';
import { nextRenewal } from '../rotation/renewal.js';
import { bundleDigest, partnerBundle, storeNewCa, storeNewLeaf, storeTrustUpdate } from './credentials.js';
import type { AppDeps } from './deps.js';
import { createLinkRecord, loadLink, withLease, type LinkRecord } from './link-record.js';
import { decodeSpec, encodeSpec } from './payloads.js';
import { linkStatus, type LinkStatus } from './status.js';
import { clusterOf, failedSync, sideIsCurrent, syncSide } from './sync.js';
import { resolveGatewayNamespaces } from './gateway-namespace.js';
import { pruneStale, withStalePlaces } from './prune.js';
import { claimGatewayPort, releaseGatewayPort, type GatewayPort } from './port-claim.js';
import { stalePlaces } from '../link/places.js';
import { assertNamesFree } from './name-ownership.js';

export { SIDES };

export interface ApplyLinkResult {
  created: boolean;
  status: LinkStatus;
}

function specHash(doc: unknown): string {
  return createHash('sha256').update(canonicalJson(doc)).digest('hex').slice(0, 32);
}

/** Reads the spec a link was last applied with. */
export async function readSpec(deps: AppDeps, record: LinkRecord): Promise<LinkSpec> {
  const { payload } = await deps.store.accessVersion(record.secretId, record.state.specVersion);
  return parseLinkSpec(decodeSpec(payload, `${record.secretId} version ${record.state.specVersion}`));
}

/** The ingress gateway port the link holds; none when the partner runs the server. */
function gatewayPortOf(spec: LinkSpec): GatewayPort | undefined {
  return 'external' in spec.server ? undefined : { cluster: spec.server.cluster, port: spec.server.gatewayPort };
}

/** The cluster of a side, or '' for the partner's: no cluster event or listing ever names it. */
function clusterRefOf(spec: LinkSpec, side: Side): string {
  return 'external' in spec[side] ? '' : clusterSide(spec, side).cluster;
}

/** Where the spec puts the link, as the state keeps it for listings and cluster events. */
function placeFields(spec: LinkSpec): Pick<LinkState, 'clientCluster' | 'serverCluster' | 'gatewayPort' | 'partner'> {
  const side = externalSide(spec);
  const partner = side ? { partner: { side, name: partnerName(spec, side) } } : {};
  return { clientCluster: clusterRefOf(spec, 'client'), serverCluster: clusterRefOf(spec, 'server'), gatewayPort: serverPort(spec), ...partner };
}

/**
 * The sync record of the partner's side: always `synced`, as there is nothing of ours to write
 * there, so what waits for both sides (phases, clean-up) waits for ours alone.
 */
const PARTNER_SYNC = { status: 'synced' } as const;

function initialState(spec: LinkSpec, now: string): LinkState {
  return {
    host: spec.host,
    ...placeFields(spec),
    specVersion: '',
    specHash: '',
    cas: [],
    signingGeneration: 0,
    phase: 'stable',
    phaseSince: now,
    leaves: {},
    sync: { client: { status: 'pending' }, server: { status: 'pending' }, ...(externalSide(spec) ? { [externalSide(spec)!]: PARTNER_SYNC } : {}) },
    createdAt: now,
    updatedAt: now,
  };
}

/** Work under the lease: something to store, or places left by an earlier update to clear. */
function incomplete(spec: LinkSpec, state: LinkState, hash: string): boolean {
  return state.specHash !== hash || state.cas.length === 0 || clusterSides(spec).some((side) => !state.leaves[side] || partnerTrustChanged(spec, state, side)) || (state.stale?.length ?? 0) > 0;
}

/** Facing a partner, the side's stored ca.crt is not the partner's bundle the spec names (the partner renewed its CA). */
function partnerTrustChanged(spec: LinkSpec, state: LinkState, side: Side): boolean {
  const bundle = partnerBundle(spec, side);
  const leaf = state.leaves[side];
  return !!bundle && !!leaf && leaf.partnerTrust !== bundleDigest(bundle);
}

/**
 * Stores the spec, the CA and the leaves that are missing. Runs under the lease. `previous` is the
 * spec the link had: the places it leaves are recorded in the same save as the new spec.
 */
async function completeStore(deps: AppDeps, record: LinkRecord, spec: LinkSpec, doc: unknown, hash: string, previous: LinkSpec | undefined): Promise<void> {
  const now = deps.clock();
  if (record.state.specHash !== hash) {
    const version = await deps.store.addVersion(record.secretId, encodeSpec(doc));
    const state = previous ? withStalePlaces(record.state, stalePlaces(previous, spec, record.state.stale)) : record.state;
    record.state = {
      ...state,
      specVersion: version,
      specHash: hash,
      ...placeFields(spec),
    };
    await record.save();
    // Once the state names the new port; a crash before leaves a claim the next holder takes over.
    const before = previous && gatewayPortOf(previous);
    const after = gatewayPortOf(spec);
    if (before && (before.cluster !== after?.cluster || before.port !== after.port)) await releaseGatewayPort(deps, spec.name, before);
  }
  if (record.state.cas.length === 0) {
    const { record: ca, orphans } = await storeNewCa(deps, record.state, spec, 1, now);
    record.state = retireVersions({ ...record.state, cas: [ca], signingGeneration: ca.generation }, 'ca', orphans, now);
    await record.save();
  }
  for (const side of clusterSides(spec)) {
    const old = record.state.leaves[side];
    if (old && !partnerTrustChanged(spec, record.state, side)) continue;
    // Facing a partner, its CAs are the trust (none of ours); a new partner bundle is published with the same leaf.
    const trust = partnerBundle(spec, side) ? [] : trustedGenerations(record.state);
    const { record: leaf, orphans } = old ? await storeTrustUpdate(deps, record.state, spec, side, trust) : await storeNewLeaf(deps, record.state, spec, side, now, trust);
    record.state = retireVersions({ ...record.state, leaves: { ...record.state.leaves, [side]: leaf } }, side, old ? [old.version, ...orphans] : orphans, now);
    await record.save();
  }
}

/**
 * Projects both sides; a side whose cluster fails is recorded, not fatal (the store holds the truth).
 * `onFailure` sees each side's error, for callers that decide on retries (registration).
 */
export async function syncSides(
  deps: AppDeps,
  spec: LinkSpec,
  state: LinkState,
  sides: readonly Side[] = clusterSides(spec),
  onFailure?: (side: Side, err: unknown) => void,
): Promise<LinkState> {
  let next = state;
  // The partner's side has nothing of ours to sync (a caller may name both sides).
  for (const side of sides.filter((s) => clusterSides(spec).includes(s))) {
    try {
      next = { ...next, sync: { ...next.sync, [side]: await syncSide(deps, spec, next, side) } };
    } catch (err) {
      onFailure?.(side, err);
      deps.log.warn('could not sync link side', { event: LOG_EVENTS.syncFailed, link: spec.name, cluster: clusterOf(spec, side), side, reason: String(err) });
      next = { ...next, sync: { ...next.sync, [side]: failedSync(next.sync[side], err, deps.clock().toISOString()) } };
    }
  }
  const failed = clusterSides(spec).map((s) => next.sync[s]).find((s) => s.status !== 'synced' && s.status !== 'pending');
  const renewal = nextRenewal(next, spec.certificates.renewBefore, deps.settings.rolloverGraceMs)?.toISOString();
  const { lastError: _previous, nextRenewal: _renewal, ...rest } = next;
  return { ...rest, ...(renewal ? { nextRenewal: renewal } : {}), ...(failed?.error ? { lastError: failed.error } : {}) };
}

/** Whether both sides' clusters hold what a sync would write (a side that cannot be read does not). */
async function sidesAreCurrent(deps: AppDeps, spec: LinkSpec, state: LinkState): Promise<boolean> {
  for (const side of clusterSides(spec)) {
    try {
      if (!(await sideIsCurrent(deps, spec, state, side))) return false;
    } catch (err) {
      deps.log.info('could not read link side; syncing it', { link: spec.name, side, reason: String(err) });
      return false;
    }
  }
  return true;
}

/**
 * The nip.io convention: a spec without `host` and with `hostConvention: nip.io` gets
 * `<ingress address>.nip.io`, the address taken from `server.address` or read from the server's
 * ingress gateway Service. Anything else is returned as it is, for the schema to judge.
 */
async function resolveHostConvention(deps: AppDeps, input: unknown): Promise<unknown> {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return input;
  const raw = input as Record<string, any>;
  if (raw.hostConvention !== 'nip.io' || raw.host !== undefined) return input;
  // A partner's server: its address stands where our ingress address would.
  let address: unknown = raw.server?.external?.address ?? raw.server?.address;
  if (address === undefined && typeof raw.server?.cluster === 'string') {
    const gateway = { namespace: raw.server.gateway?.namespace ?? DEFAULT_GATEWAY_NAMESPACE, service: raw.server.gateway?.service ?? GATEWAY_DEFAULTS.server.service };
    address = (await deps.clusters.target(raw.server.cluster).getService(gateway.namespace, gateway.service))?.address;
  }
  const host = typeof address === 'string' ? nipIoHost(address) : undefined;
  if (!host) {
    throw new MeshlinkError('invalid-argument', 'invalid link spec', {
      details: [{ path: 'host', message: 'is required: the nip.io convention needs an IPv4 ingress address (set server.address, or wait until the ingress gateway Service has one)' }],
    });
  }
  return { ...raw, host };
}

export async function applyLink(deps: AppDeps, input: unknown): Promise<ApplyLinkResult> {
  // Namespaces first: the nip.io convention reads the ingress Service in the server's.
  const spec = parseLinkSpec(await resolveHostConvention(deps, await resolveGatewayNamespaces(deps, input)));
  const doc = specDocument(spec);
  const hash = specHash(doc);
  const existing = await loadLink(deps, spec.name);
  const previous = existing?.state.specVersion && existing.state.specHash !== hash ? await readSpec(deps, existing) : undefined;
  if (previous) {
    const changed = immutableFieldsChanged(previous, spec);
    if (changed.length > 0) {
      throw new MeshlinkError('conflict', `link ${spec.name} exists with another ${changed.join(' and ')}; the certificates are bound to it: delete the link and create it again`, {
        details: changed.map((path) => ({ path, message: 'cannot change on an existing link' })),
      });
    }
  }
  // Before the first write: a name another link's object holds is a 409, never an overwrite.
  await assertNamesFree(deps, spec);
  // On every apply, so a link that holds no claim yet (made before claims) takes one.
  const port = gatewayPortOf(spec);
  if (port) await claimGatewayPort(deps, spec.name, port);
  const record = existing ?? (await createLinkRecord(deps, spec.name, initialState(spec, deps.clock().toISOString())));
  const created = !existing || !existing.state.specHash;

  if (incomplete(spec, record.state, hash)) {
    await withLease(deps, record, async (r) => {
      await completeStore(deps, r, spec, doc, hash, previous);
      r.state = await pruneStale(deps, spec, await syncSides(deps, spec, r.state));
      await r.save();
    });
  } else if (!(await sidesAreCurrent(deps, spec, record.state))) {
    // Nothing to store, but drift to heal or a side to retry: under the lease, from the state it
    // was taken on, so a rotation holding it is never undone by credentials read before it.
    await withLease(deps, record, async (r) => {
      r.state = await syncSides(deps, spec, r.state);
      await r.save();
    });
  }
  return { created, status: linkStatus(spec, doc, record.state, { now: deps.clock(), settings: deps.settings }) };
}
