// Use-case: delete a link, or what a create stopped before its record left (creation-lease.ts).
// Removes its objects from both clusters (by label), its port from the ingress gateway Service and
// whatever updates left elsewhere (LinkState.stale), then deletes its secrets and claims from the
// store, the link record last so that a crash half-way leaves a link that a second DELETE finishes.
//
// Delete always works. A stored spec that no longer validates (older code) is read for its places
// leniently (link/places.ts storedPlaces). A place whose cluster reference is malformed can never
// be reached: it is given up (reported, logged). A place whose cluster does not answer is kept:
// the record becomes a tombstone (LinkState.deleted, the places in `stale`), invisible to reads,
// which the rotation sweep (or the cluster's registration) finishes like any stale place (due
// syncRetryMs after each failed try). A repeated DELETE tries again and gives nothing up: a retry
// after a timeout must not leak objects. Only `force` gives up what is left (a cluster gone for good). Every place is tried,
// so shared objects (the ingress gateway Service's ports) are cleaned wherever a cluster answers.
import { isMeshlinkError, MeshlinkError } from '../errors.js';
import { specStored, type LinkState, type StalePlace } from '../link/state.js';
import { clusterWideKey, type PlaceOwner } from '../link/places.js';
import { ISTIO_API_VERSIONS } from '../link/spec.js';
import type { AppDeps } from './deps.js';
import { dropCredentials } from './credentials.js';
import { loadLink, withLease, type LinkRecord } from './link-record.js';
import { halfCreated, labelledFor } from './creation-lease.js';
import { readStoredSpec } from './stored-spec.js';
import { clearPlaces, type Uncleared } from './prune.js';
import { dropClaimsOutsideStore, releaseClaims } from './port-claim.js';

/** What a delete could not remove. */
export interface DeleteResult {
  /** Places whose cluster did not answer: the sweep tries them again (the tombstone). */
  pending: StalePlace[];
  /** Places given up: a malformed cluster reference, or (with `force`) a cluster not answering. */
  abandoned: StalePlace[];
}

/** Whose objects and where: the stored spec's places, or a tombstone's. */
async function whatToClear(deps: AppDeps, r: LinkRecord): Promise<{ owner: PlaceOwner; places: StalePlace[] }> {
  const stale = r.state.stale ?? [];
  if (r.state.deleted) return { owner: { name: r.link, istioApiVersion: r.state.deleted.istioApiVersion }, places: stale };
  if (!specStored(r.state)) return { owner: { name: r.link, istioApiVersion: ISTIO_API_VERSIONS[0] }, places: [] }; // never synced
  const read = await readStoredSpec(deps, r);
  return { owner: read.owner, places: [...read.places, ...stale] };
}

/**
 * Each side's objects once per cluster (every namespace of it: a link may have left older ones),
 * each port place once.
 */
function distinct(places: readonly StalePlace[]): StalePlace[] {
  const seen = new Set<string>();
  return places.filter((p) => {
    const key = clusterWideKey(p);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Tries every place; then the credentials go. Runs under the lease. */
async function clearAll(deps: AppDeps, r: LinkRecord): Promise<{ owner: PlaceOwner; uncleared: Uncleared }> {
  const { owner, places } = await whatToClear(deps, r);
  const uncleared = await clearPlaces(deps, owner, distinct(places), true);
  await dropCredentials(deps, r.link);
  return { owner, uncleared };
}

/** The tombstone: no spec, credentials or sync left; the clusters and claims it names stay held. */
function tombstone(state: LinkState, owner: PlaceOwner, pending: StalePlace[], now: string): LinkState {
  const { forced: _f, retired: _r, requests: _q, nextRenewal: _n, ...rest } = state;
  return {
    ...rest,
    deleted: { at: state.deleted?.at ?? now, istioApiVersion: owner.istioApiVersion },
    specVersion: '',
    specHash: '',
    cas: [],
    signingGeneration: 0,
    phase: 'stable',
    leaves: {},
    // The partner's side has nothing of ours to sync (app/provision.ts): it stays synced.
    sync: { client: { status: 'pending' }, server: { status: 'pending' }, ...(state.partner ? { [state.partner.side]: { status: 'synced' } } : {}) },
    stale: pending,
    staleFailedAt: now,
    lastError: `deleted; ${pending.length} place(s) not cleared yet (retried)`,
  };
}

/** The record and its claims go: after the lease is released, or with it (the record holds it). */
export async function dropRecord(deps: AppDeps, record: LinkRecord): Promise<void> {
  await releaseClaims(deps, record.link, record.state);
  try {
    await deps.store.deleteSecret(record.secretId);
  } catch (err) {
    if (!isMeshlinkError(err, 'not-found')) throw err; // a new link's record, not written yet
  }
}

/** The record as it goes under the lease: withLease then has no lease to release on it. */
export function withoutLease(r: LinkRecord): LinkRecord {
  const { lease: _released, ...rest } = r.state;
  r.state = rest;
  return r;
}

export interface DeleteOptions {
  /** Give up the places whose cluster does not answer (a cluster gone for good) instead of leaving them to the sweep. */
  force?: boolean;
}

/**
 * What a create that stopped before anything recorded its claims and places left (claims taken
 * before its CA secret): every store secret labelled for the link goes, claims by their etag, and
 * its claims outside the store. How many went.
 */
async function dropLabelled(deps: AppDeps, name: string): Promise<number> {
  const left = await labelledFor(deps, name);
  const outside = await dropClaimsOutsideStore(deps, name);
  for (const secret of left) {
    try {
      await deps.store.deleteSecret(secret.id, secret.etag);
    } catch (err) {
      if (!isMeshlinkError(err, 'not-found')) throw err;
    }
  }
  if (left.length + outside > 0) deps.log.info('deleted what a stopped create left', { link: name, secrets: left.length, claims: outside });
  return left.length + outside;
}

async function dropLeftovers(deps: AppDeps, name: string): Promise<DeleteResult> {
  if ((await dropLabelled(deps, name)) === 0) throw new MeshlinkError('not-found', `link ${name} not found`);
  return { pending: [], abandoned: [] };
}

export async function deleteLink(deps: AppDeps, name: string, options: DeleteOptions = {}): Promise<DeleteResult> {
  // A link created half-way (a crash before its record) is deleted from what its creation recorded.
  const saved = await loadLink(deps, name);
  const record = saved ?? (await halfCreated(deps, name));
  if (!record) return dropLeftovers(deps, name);
  const result = await withLease(deps, record, async (r): Promise<DeleteResult> => {
    const { owner, uncleared } = await clearAll(deps, r);
    if (uncleared.left.length === 0 || options.force) return { pending: [], abandoned: [...uncleared.abandoned, ...uncleared.left] };
    r.state = tombstone(r.state, owner, uncleared.left, deps.clock().toISOString());
    r.spec = undefined; // a tombstone keeps places, not the spec
    await r.save();
    return { pending: uncleared.left, abandoned: uncleared.abandoned };
  });
  if (result.pending.length === 0) await dropRecord(deps, record);
  // Claims its creation no longer names: taken by a POST of another spec that stopped too.
  if (result.pending.length === 0 && !saved) await dropLabelled(deps, name);
  deps.log.info(result.pending.length > 0 ? 'deleted link; places left for the sweep' : 'deleted link', { link: name, pending: result.pending.length, abandoned: result.abandoned.length });
  return result;
}

/**
 * The sweep's part: tries a tombstone's places again (under the lease the caller holds), and
 * drops the record once none is left. Returns the places still left.
 */
export async function finishDeletion(deps: AppDeps, r: LinkRecord): Promise<StalePlace[]> {
  const { owner, uncleared } = await clearAll(deps, r);
  if (uncleared.left.length > 0) {
    r.state = tombstone(r.state, owner, uncleared.left, deps.clock().toISOString());
    await r.save();
    return uncleared.left;
  }
  await dropRecord(deps, withoutLease(r));
  deps.log.info('finished deleting link', { link: r.link });
  return [];
}
