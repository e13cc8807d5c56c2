// Use-cases: a cluster was registered (created, rebuilt, re-registered) or deregistered. The links
// that name it are found from link metadata alone (the state annotation names both clusters; no
// payload is read for other links). Registration projects each matching side from the store into
// the cluster: the same credentials as before, never a new mint (invariant 3), and clears what a
// link moved away from left there (LinkState.stale), and finishes a link deleted while the
// cluster did not answer (the tombstone; app/delete.ts). Deregistration marks the side detached and
// deletes nothing.
import { MeshlinkError, isMeshlinkError } from '../errors.js';
import { STORE_LABEL_LINK, type Side } from '../link/names.js';
import { decodeState, specStored, type LinkState } from '../link/state.js';
import { errorFields } from '../log.js';
import { matchCluster, type MatchMode } from '../registration/aliases.js';
import type { RegistrationEvent } from '../registration/events.js';
import type { SecretMetadata } from '../store/port.js';
import type { AppDeps } from './deps.js';
import { finishDeletion } from './delete.js';
import { LinkRecord, listLinkSecrets, loadLink, withLease } from './link-record.js';
import { SIDES, syncSides } from './provision.js';
import { readSpec } from './stored-spec.js';
import { pruneStale } from './prune.js';

export interface RegistrationResult {
  /** Every link that names the cluster, by any alias (registration: or that left a place there to clear). */
  links: string[];
  /** Links whose sides in the cluster are now synced (registration) or detached (deregistration). */
  done: string[];
  /** Links whose side could not be synced for a reason a retry does not fix; their status says why. */
  failed: string[];
  /** Links that are not complete yet (no spec or credentials stored): applying the spec completes them. */
  skipped: string[];
}

interface Candidate {
  link: string;
  meta: SecretMetadata;
  state: LinkState;
  sides: Side[];
}

function clusterOfState(state: LinkState, side: Side): string {
  return side === 'client' ? state.clientCluster : state.serverCluster;
}

function matchingSides(state: LinkState, aliases: readonly string[], mode: MatchMode): Side[] {
  // The partner's side is in no cluster of ours: no event is about it.
  return SIDES.filter((side) => side !== state.partner?.side && matchCluster(clusterOfState(state, side), aliases, mode) !== undefined);
}

/** How a cluster event picks its links: by the clusters they name, and (registration) by the places they left to clear. */
interface Match {
  mode: MatchMode;
  stale: boolean;
}

/** The link's sides in the cluster, or undefined if the event is not about the link. */
function matchLink(state: LinkState, aliases: readonly string[], match: Match): Side[] | undefined {
  const sides = matchingSides(state, aliases, match.mode);
  const leftThere = match.stale && (state.stale ?? []).some((place) => matchCluster(place.cluster, aliases, match.mode) !== undefined);
  return sides.length > 0 || leftThere ? sides : undefined;
}

/** Lists link metadata (one page at a time, no payloads) and keeps the links the event is about. */
async function findLinks(deps: AppDeps, aliases: readonly string[], match: Match): Promise<Candidate[]> {
  const found: Candidate[] = [];
  for await (const meta of listLinkSecrets(deps)) {
    const link = meta.labels[STORE_LABEL_LINK];
    if (!link) continue;
    let state: LinkState | undefined;
    try {
      state = decodeState(meta.annotations, meta.id);
    } catch (err) {
      deps.log.error('skipping a link whose state cannot be read', { link, secret: meta.id, ...errorFields(err) });
      continue;
    }
    if (!state) continue;
    const sides = matchLink(state, aliases, match);
    if (sides) found.push({ link, meta, state, sides });
  }
  return found.sort((a, b) => a.link.localeCompare(b.link));
}

type Outcome = 'done' | 'failed' | 'skipped' | 'retry';

/**
 * Runs `work` on each link under its lease. A lease held by another worker (a rotation, a
 * concurrent delivery), a store or a cluster that does not answer asks for a redelivery: the other
 * links are handled first, then `unavailable` is thrown so Pub/Sub delivers the message again (and
 * the links already done cost no cluster write the second time). Other failures are permanent:
 * logged, and the link counted as failed.
 */
async function forEachLink(
  deps: AppDeps,
  event: RegistrationEvent,
  match: Match,
  work: (record: LinkRecord, sides: Side[]) => Promise<Outcome>,
): Promise<RegistrationResult> {
  const cluster = event.aliases[0];
  const candidates = await findLinks(deps, event.aliases, match);
  const result: RegistrationResult = { links: candidates.map((c) => c.link), done: [], failed: [], skipped: [] };
  const retry: string[] = [];
  if (candidates.length === 0) deps.log.info('no link names the cluster', { cluster, aliases: event.aliases, clusterEvent: event.kind });

  const attempt = async (candidate: Candidate): Promise<Outcome> => {
    try {
      return await work(new LinkRecord(deps, candidate.link, candidate.meta, candidate.state), candidate.sides);
    } catch (err) {
      if (!isMeshlinkError(err, 'conflict')) throw err;
    }
    // Someone wrote the link since it was listed: read it again and try once more.
    const fresh = await loadLink(deps, candidate.link);
    const sides = fresh ? matchLink(fresh.state, event.aliases, match) : undefined;
    return fresh && sides ? work(fresh, sides) : 'skipped';
  };

  for (const candidate of candidates) {
    const log = deps.log.with({ link: candidate.link, cluster });
    let outcome: Outcome;
    try {
      outcome = await attempt(candidate);
    } catch (err) {
      if (isMeshlinkError(err, 'conflict') || isMeshlinkError(err, 'unavailable')) {
        log.info('link not reconciled now; asking for a redelivery', { reason: err.message });
        outcome = 'retry';
      } else {
        log.error('could not reconcile link with the cluster event', { clusterEvent: event.kind, ...errorFields(err) });
        outcome = 'failed';
      }
    }
    if (outcome === 'retry') retry.push(candidate.link);
    else result[outcome].push(candidate.link);
  }
  if (retry.length > 0) {
    deps.log.warn('cluster event handled in part; it will be retried', { cluster, clusterEvent: event.kind, retry, ...result });
    throw new MeshlinkError('unavailable', `cluster ${cluster}: links ${retry.join(', ')} must be retried (cluster not answering or link busy)`);
  }
  return result;
}

/**
 * Brings every link that names the cluster into it: objects, Secret and gateway ports (syncSide).
 * A link that moved away from the cluster while it was not answering has its old place there
 * cleared (once both its sides are synced at the new places; a failure is left to the sweep).
 */
export async function registerCluster(deps: AppDeps, event: RegistrationEvent): Promise<RegistrationResult> {
  return forEachLink(deps, event, { mode: 'related', stale: true }, async (record, sides): Promise<Outcome> => {
    const state = record.state;
    if (state.deleted) return finishTombstone(deps, record, event);
    if (!specStored(state) || sides.some((side) => !state.leaves[side])) return 'skipped';
    return withLease(deps, record, async (r): Promise<Outcome> => {
      const spec = await readSpec(deps, r);
      const errors: { side: Side; err: unknown }[] = [];
      const address = r.state.sync.server.address;
      if (sides.length > 0) r.state = await syncSides(deps, spec, r.state, sides, (side, err) => errors.push({ side, err }));
      if (sides.includes('server') && !sides.includes('client') && r.state.sync.server.address !== address) {
        // A rebuilt server cluster may have a new ingress address: the client side must follow.
        // Its own cluster's failures are recorded, not retried: its registration or the sweep heals it.
        r.state = await syncSides(deps, spec, r.state, ['client']);
      }
      // A link moved to this cluster before it was there, or away from it while it was not
      // answering: its old places go now that both sides are in place.
      r.state = await pruneStale(deps, spec, r.state);
      await r.saveAndRelease();
      if (errors.some((e) => isMeshlinkError(e.err, 'unavailable'))) return 'retry';
      deps.log.info(errors.length > 0 ? 'cluster registered; link side not synced' : 'cluster registered; link synced', {
        link: r.link,
        cluster: event.aliases[0],
        sides,
        ...(errors.length > 0 ? { reason: errors.map((e) => `${e.side}: ${String(errorFields(e.err).error)}`).join('; ') } : {}),
      });
      return errors.length > 0 ? 'failed' : 'done';
    });
  });
}

/**
 * A link deleted while this cluster did not answer: its places are cleared now (all of them, as
 * the sweep does), and the record goes once none is left. A place in this very cluster that still
 * cannot be cleared asks for a redelivery; places elsewhere stay for the sweep.
 */
async function finishTombstone(deps: AppDeps, record: LinkRecord, event: RegistrationEvent): Promise<Outcome> {
  const left = await withLease(deps, record, (r) => finishDeletion(deps, r));
  return left.some((place) => matchCluster(place.cluster, event.aliases, 'related') !== undefined) ? 'retry' : 'done';
}

/** Marks the sides in the cluster detached. The store and the other cluster are left alone. */
export async function deregisterCluster(deps: AppDeps, event: RegistrationEvent): Promise<RegistrationResult> {
  return forEachLink(deps, event, { mode: 'exact', stale: false }, async (record, sides): Promise<Outcome> => {
    const pending = sides.filter((side) => record.state.sync[side].status !== 'detached');
    if (pending.length === 0) return 'done'; // a redelivery: nothing to write
    return withLease(deps, record, async (r): Promise<Outcome> => {
      const at = deps.clock().toISOString();
      const sync = { ...r.state.sync };
      for (const side of pending) {
        const { error: _error, ...previous } = sync[side];
        sync[side] = { ...previous, status: 'detached', at };
      }
      r.state = { ...r.state, sync };
      await r.saveAndRelease();
      deps.log.info('cluster deregistered; link side detached', { link: r.link, cluster: event.aliases[0], sides: pending });
      return 'done';
    });
  });
}
