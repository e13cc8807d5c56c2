// Use-case: create or update a link from a spec. Mints the CA and both leaves on first sight,
// stores everything, then projects both sides into their clusters. Repeating the same spec
// changes nothing (invariant 2); a changed mutable field re-renders, and what a move leaves in
// the old namespace, cluster or Service goes once the new places are synced (prune.ts); a changed
// issuer rolls the CA over (rotation); a changed host is refused.
import { isMeshlinkError, MeshlinkError } from '../errors.js';
import { clusterSide, clusterSides, DEFAULT_GATEWAY_NAMESPACE, externalSide, GATEWAY_DEFAULTS, immutableFieldsChanged, nipIoHost, parseLinkSpec, partnerCaExpiry, partnerName, serverPort, specDocument, type LinkSpec } from '../link/spec.js';
import type { Side } from '../link/names.js';
import type { SecretVersionInfo } from '../store/port.js';
import { SIDES } from '../link/names.js';
import { retireVersions, specStored, trustedGenerations, type LinkState } from '../link/state.js';
import { LOG_EVENTS } from '../log-events.js';
import { nextRenewal, rolloverWaitMs } from '../rotation/renewal.js';
import { bundleDigest, dropCredentials, mintAhead, partnerBundle, storeNewCa, storeNewLeaf, storeTrustUpdate, versionsCreating, type MintedAhead } from './credentials.js';
import { allSettled } from '../settle.js';
import type { AppDeps } from './deps.js';
import { LinkRecord, loadLink, withLease } from './link-record.js';
import { releaseCreationLease, takeCreationLease } from './creation-lease.js';
import { linkStatus, type LinkStatus } from './status.js';
import { clusterOf, failedSync, ingressAddress, sideIsCurrent, syncSide } from './sync.js';
import { resolveGatewayNamespaces } from './gateway-namespace.js';
import { pruneStale, withStalePlaces } from './prune.js';
import { claimedHost, claimedPort, claimHostAndPort, releaseGatewayPort, releaseHost, type ClientHost, type GatewayPort } from './port-claim.js';
import { clusterWideKey, linkPlaces, stalePlaces } from '../link/places.js';
import { dropRecord, withoutLease } from './delete.js';
import { readStoredSpec, specHash, storeSpec, type StoredSpec } from './stored-spec.js';
import { assertNamesFree } from './name-ownership.js';
import { issuerTarget, requireIssuer } from './issuers.js';

export { SIDES };

export interface ApplyLinkResult {
  created: boolean;
  status: LinkStatus;
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
  const expiry = side ? partnerCaExpiry(spec, side) : undefined;
  const partner = side ? { partner: { side, name: partnerName(spec, side), ...(expiry ? { caNotAfter: expiry.toISOString() } : {}) } } : {};
  return { clientCluster: clusterRefOf(spec, 'client'), serverCluster: clusterRefOf(spec, 'server'), gatewayPort: serverPort(spec), ...partner };
}

/**
 * The sync record of the partner's side: always `synced`, as there is nothing of ours to write
 * there, so what waits for both sides (phases, clean-up) waits for ours alone.
 */
const PARTNER_SYNC = { status: 'synced' } as const;

/** The host claim the link holds on its client cluster; none when the partner runs the client. */
function clientHostOf(spec: LinkSpec): ClientHost | undefined {
  return 'external' in spec.client ? undefined : { cluster: spec.client.cluster, host: spec.host };
}

/**
 * A deleted link's tombstone (app/delete.ts) taken over by a new link of the same name: the
 * places not cleared yet stay, to be cleared once the new link is synced, but for those the new
 * link uses itself (its objects on the same cluster and side, its port on the same Service).
 * The partner side is the new spec's (initialState), not the deleted link's.
 */
function revived(state: LinkState, spec: LinkSpec, now: string): LinkState {
  const here = new Set(linkPlaces(spec).map(clusterWideKey));
  const stale = (state.stale ?? []).filter((p) => !here.has(clusterWideKey(p)));
  // The issuer and partner too: the new link's spec decides them (initialState), not the deleted link's.
  const { deleted: _d, stale: _s, staleFailedAt: _f, lastError: _e, issuer: _i, partner: _p, ...rest } = state;
  return { ...rest, ...initialState(spec, now), ...(stale.length > 0 ? { stale } : {}) };
}

/**
 * A create refused once something was written (a mint that fails its checks): its credentials,
 * claims and record (if any) go, so the refusal leaves no trace. Runs under the lease.
 */
async function discardCreated(deps: AppDeps, r: LinkRecord): Promise<void> {
  await dropCredentials(deps, r.link);
  await dropRecord(deps, withoutLease(r));
}

/**
 * A new link (no record): under the creation lease (creation-lease.ts), its CA, leaves and sync
 * first, then its record, once, with the complete state and spec: 9 writes on Secret Manager, 7
 * with the claims in a bucket (docs/architecture.md). A crash before the record leaves no record, so the link is invisible to
 * reads, the sweep and registrations; a POST of the name completes it (adopting what was stored),
 * and DELETE of the name removes what it left (delete.ts). A POST of another spec also clears the
 * places the stopped create used that it does not, and gives up its claims, as an update does.
 */
async function createLink(deps: AppDeps, spec: LinkSpec, doc: unknown, hash: string, ahead: MintedAhead | undefined): Promise<LinkRecord> {
  const r = new LinkRecord(deps, spec.name, undefined, initialState(spec, deps.clock().toISOString()));
  const { holder, stopped } = await takeCreationLease(deps, r.state, spec);
  if (stopped) r.state = withStalePlaces(r.state, stopped.left);
  try {
    await completeStore(deps, r, spec, doc, hash, undefined, ahead);
    r.state = await pruneStale(deps, spec, await syncSides(deps, spec, r.state));
    await r.save();
  } catch (err) {
    // Refused after its first writes, it leaves nothing; a transient failure stays for a retry, at once.
    if (isMeshlinkError(err) && !err.retryable && err.code !== 'conflict') await discardCreated(deps, r);
    else await releaseCreationLease(deps, spec.name, holder);
    throw err;
  }
  if (stopped) await releaseClaimsLeft(deps, spec.name, claimsLeft(stopped.state, spec));
  return r;
}

/**
 * The claims `before` names that `spec` does not use (a partner's side holds none: port-claim.ts
 * claimedPort, claimedHost). Given up only once a saved state names the new ones.
 */
function claimsLeft(before: LinkState, spec: LinkSpec): { port?: GatewayPort; host?: ClientHost } {
  const [oldPort, newPort] = [claimedPort(before), gatewayPortOf(spec)];
  const [oldHost, newHost] = [claimedHost(before), clientHostOf(spec)];
  const portMoves = !!oldPort && (oldPort.cluster !== newPort?.cluster || oldPort.port !== newPort.port);
  const hostMoves = !!oldHost && (oldHost.cluster !== newHost?.cluster || oldHost.host !== newHost.host);
  return { ...(portMoves ? { port: oldPort } : {}), ...(hostMoves ? { host: oldHost } : {}) };
}

async function releaseClaimsLeft(deps: AppDeps, link: string, left: { port?: GatewayPort; host?: ClientHost }): Promise<void> {
  if (left.port) await releaseGatewayPort(deps, link, left.port);
  if (left.host) await releaseHost(deps, link, left.host);
}

function initialState(spec: LinkSpec, now: string): LinkState {
  return {
    host: spec.host,
    ...(spec.issuer ? { issuer: spec.issuer } : {}),
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
 * spec the link had: the places it leaves are recorded in the same save as the new spec. The
 * state is not saved here: the caller's one save after the sync records it all (a crash before
 * leaves versions the next run adopts: stored-spec.ts, and credentials.ts for the CA and leaves).
 */
async function completeStore(deps: AppDeps, record: LinkRecord, spec: LinkSpec, doc: unknown, hash: string, previous: StoredSpec | undefined, ahead?: MintedAhead): Promise<void> {
  const now = deps.clock();
  if (record.state.specHash !== hash) {
    const version = await storeSpec(deps, record, doc, hash);
    const before = record.state; // names what the link's claims were taken for
    const state = previous ? withStalePlaces(record.state, stalePlaces(previous.places, spec, record.state.stale)) : record.state;
    // A new issuer (or none) is recorded with the spec: the plan then rolls the link's CA over to it.
    const { issuer: _issuer, ...rest } = state;
    record.state = {
      ...rest,
      ...(spec.issuer ? { issuer: spec.issuer } : {}),
      specVersion: version,
      specHash: hash,
      ...placeFields(spec),
    };
    // Released once the state names the new port and client cluster: saved at once (a crash
    // before leaves a claim the next holder takes over). From the state, not the previous spec
    // (which may not validate).
    const left = claimsLeft(before, spec);
    if (left.port || left.host) await record.save();
    await releaseClaimsLeft(deps, spec.name, left);
  }
  const sides = clusterSides(spec).filter((side) => !record.state.leaves[side] || partnerTrustChanged(spec, record.state, side));
  // A new leaf's versions, listed (its secret made if there is none) while the CA's version is written: they do not depend on it.
  const listed = new Map<Side, SecretVersionInfo[]>();
  if (record.state.cas.length === 0) {
    const fresh = sides.filter((side) => !record.state.leaves[side]);
    const [{ record: ca, orphans }, ...versions] = await allSettled([storeNewCa(deps, record.state, spec, 1, now, ahead?.ca), ...fresh.map((side) => versionsCreating(deps, spec.name, side))]);
    fresh.forEach((side, i) => listed.set(side, versions[i] as SecretVersionInfo[]));
    record.state = retireVersions({ ...record.state, cas: [ca], signingGeneration: ca.generation }, 'ca', orphans, now);
  }
  // Each side's leaf depends on the CA only: both are minted and stored at once.
  // Minted ahead, they serve unless a crashed run's CA was adopted (storeNewLeaf compares).
  const aheadCa = await ahead?.ca.catch(() => undefined);
  const aheadOf = (side: Side) => {
    const leaf = ahead?.leaves.get(side);
    return aheadCa && leaf ? { ca: aheadCa, leaf } : undefined;
  };
  const leaves = await allSettled(
    sides.map(async (side) => {
      const old = record.state.leaves[side];
      // Facing a partner, its CAs are the trust (none of ours); a new partner bundle is published with the same leaf.
      const trust = partnerBundle(spec, side) ? [] : trustedGenerations(record.state);
      const { record: leaf, orphans } = old ? await storeTrustUpdate(deps, record.state, spec, side, trust) : await storeNewLeaf(deps, record.state, spec, side, now, trust, listed.get(side), aheadOf(side));
      return { side, leaf, retire: old ? [old.version, ...orphans] : orphans };
    }),
  );
  for (const { side, leaf, retire } of leaves) record.state = retireVersions({ ...record.state, leaves: { ...record.state.leaves, [side]: leaf } }, side, retire, now);
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
  const syncing = sides.filter((s) => clusterSides(spec).includes(s));
  // Both sides at once: the client's objects need the server's ingress address, read first (a
  // server cluster that cannot be read leaves the client the address last recorded).
  const ingress = syncing.length > 1 ? { address: await ingressAddress(deps, spec, state, 'server').catch(() => state.sync.server.address) } : undefined;
  const results = await Promise.allSettled(syncing.map((side) => syncSide(deps, spec, state, side, ingress)));
  for (const [i, side] of syncing.entries()) {
    const result = results[i]!;
    if (result.status === 'fulfilled') {
      next = { ...next, sync: { ...next.sync, [side]: result.value } };
      continue;
    }
    const err: unknown = result.reason;
    onFailure?.(side, err);
    deps.log.warn('could not sync link side', { event: LOG_EVENTS.syncFailed, link: spec.name, cluster: clusterOf(spec, side), side, reason: String(err) });
    next = { ...next, sync: { ...next.sync, [side]: failedSync(next.sync[side], err, deps.clock().toISOString()) } };
  }
  const failed = clusterSides(spec).map((s) => next.sync[s]).find((s) => s.status !== 'synced' && s.status !== 'pending');
  const renewal = nextRenewal(next, spec.certificates.renewBefore, rolloverWaitMs(deps.settings, next.partner !== undefined))?.toISOString();
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

/**
 * immutableFieldsChanged against a stored spec that no longer validates: the host and which side
 * the partner runs, as the state keeps them.
 */
function storedFieldsChanged(state: LinkState, spec: LinkSpec): string[] {
  const changed = state.host === spec.host ? [] : ['host'];
  const [before, after] = [state.partner?.side, externalSide(spec)];
  if (before !== after) changed.push(`${after ?? before}.external`);
  return changed;
}

/**
 * A cluster reference this deployment can never reach (a kind MESHLINK_CLUSTER_ACCESS leaves out)
 * is a 400 naming the side's field, before anything is written. Resolving a target does no I/O.
 */
function assertClustersReachable(deps: AppDeps, spec: LinkSpec): void {
  // The partner's side is in no cluster of ours.
  for (const side of clusterSides(spec)) {
    try {
      deps.clusters.target(clusterOf(spec, side));
    } catch (err) {
      if (!isMeshlinkError(err, 'invalid-argument')) throw err;
      throw new MeshlinkError('invalid-argument', 'invalid link spec', { details: [{ path: `${side}.cluster`, message: err.message }] });
    }
  }
}

export async function applyLink(deps: AppDeps, input: unknown): Promise<ApplyLinkResult> {
  // Namespaces first: the nip.io convention reads the ingress Service in the server's.
  const spec = parseLinkSpec(await resolveHostConvention(deps, await resolveGatewayNamespaces(deps, input)));
  const doc = specDocument(spec);
  const hash = specHash(doc);
  const existing = await loadLink(deps, spec.name);
  const tombstone = !!existing?.state.deleted;
  const previous = existing && specStored(existing.state) && existing.state.specHash !== hash ? await readStoredSpec(deps, existing) : undefined;
  if (previous) {
    // The state holds the host the certificates are bound to, whether or not the old spec still validates.
    const changed = previous.spec ? immutableFieldsChanged(previous.spec, spec) : storedFieldsChanged(existing!.state, spec);
    if (changed.length > 0) {
      throw new MeshlinkError('conflict', `link ${spec.name} exists with another ${changed.join(' and ')}; the certificates are bound to it: delete the link and create it again`, {
        details: changed.map((path) => ({ path, message: 'cannot change on an existing link' })),
      });
    }
  }
  assertClustersReachable(deps, spec);
  // Before the first write: a name another link's object holds is a 409, never an overwrite.
  await assertNamesFree(deps, spec);
  if (spec.issuer) await requireIssuer(deps, spec.issuer);
  // A new link's credentials are minted while its claims and creation lease wait on the store.
  const ahead = existing ? undefined : mintAhead(spec, clusterSides(spec), deps.clock());
  // On every apply, so a link that holds no claim yet (made before claims) takes one.
  await claimHostAndPort(deps, spec.name, clientHostOf(spec), gatewayPortOf(spec));
  if (!existing) return answer(deps, spec, doc, await createLink(deps, spec, doc, hash, ahead), true);
  const record = existing;
  const created = !specStored(existing.state);

  if (tombstone || incomplete(spec, record.state, hash)) {
    await withLease(deps, record, async (r) => {
      if (r.state.deleted) r.state = revived(r.state, spec, deps.clock().toISOString());
      try {
        await completeStore(deps, r, spec, doc, hash, previous);
      } catch (err) {
        // A new link refused after its first writes leaves nothing; a transient failure stays for a retry.
        if (created && isMeshlinkError(err) && !err.retryable && err.code !== 'conflict') await discardCreated(deps, r);
        throw err;
      }
      r.state = await pruneStale(deps, spec, await syncSides(deps, spec, r.state));
      await r.saveAndRelease();
    });
  } else if (!(await sidesAreCurrent(deps, spec, record.state))) {
    // Nothing to store, but drift to heal or a side to retry: under the lease, from the state it
    // was taken on, so a rotation holding it is never undone by credentials read before it.
    await withLease(deps, record, async (r) => {
      r.state = await syncSides(deps, spec, r.state);
      await r.saveAndRelease();
    });
  }
  return answer(deps, spec, doc, record, created);
}

async function answer(deps: AppDeps, spec: LinkSpec, doc: unknown, record: LinkRecord, created: boolean): Promise<ApplyLinkResult> {
  const issuer = spec.issuer ? await issuerTarget(deps, spec.issuer) : undefined;
  return { created, status: linkStatus(spec, doc, record.state, { now: deps.clock(), settings: deps.settings, ...(issuer ? { issuer } : {}) }) };
}
