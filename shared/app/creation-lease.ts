// The lease of a new link's creation. A new link's record is written last, once, with its
// complete state (app/provision.ts), so until then the lease cannot be on it: it is held by the
// first write keyed by the link's name, the CA secret's CreateSecret, in an annotation with the
// holder and expiry. A concurrent create of the same name finds it held and gets 409, as a held
// lease on a record does; one left by a crashed create has expired and is taken over, and the run
// that takes it adopts the versions the crashed one stored. The annotation also keeps what a
// DELETE of a half-created link needs without a spec (its claims and places): see halfCreated.
// Taken over by a POST of another spec, it keeps the places the stopped run named that the new
// spec does not use, until the new run has cleared them (provision.ts createLink).
import { MeshlinkError, isMeshlinkError } from '../errors.js';
import { STORE_LABEL_LINK, STORE_LABEL_MANAGED_BY, MANAGER, storeLabels } from '../link/names.js';
import { decodeJsonAnnotation, type LinkState, type StalePlace } from '../link/state.js';
import type { LinkSpec } from '../link/spec.js';
import { linkPlaces, stalePlaces } from '../link/places.js';
import type { SecretMetadata } from '../store/port.js';
import { secretIdOf } from './credentials.js';
import type { AppDeps } from './deps.js';
import { LinkRecord, newLease } from './link-record.js';

const ANNOTATION_CREATING = 'meshlink-creating';

/** What the CA secret's annotation holds while its link has no record. */
interface Creation {
  lease: { holder: string; until: string };
  /** The new link's first state: its host, clusters and port name its claims. */
  state: LinkState;
  /** Where its sync may have put objects, and with which Istio API version. */
  places: StalePlace[];
  istioApiVersion: LinkSpec['istioApiVersion'];
}

function readCreation(meta: SecretMetadata): Creation | undefined {
  return decodeJsonAnnotation<Creation>(meta.annotations, ANNOTATION_CREATING, `creation record of ${meta.id}`);
}

function heldError(link: string, until: string): MeshlinkError {
  return new MeshlinkError('conflict', `link ${link} is being created by another worker until ${until}; try again`);
}

/** What a crashed create left that a create taking its lease over meets: its state (its claims) and the places the new spec no longer uses. */
export interface StoppedCreation {
  state: LinkState;
  left: StalePlace[];
}

/**
 * Takes the creation lease of a link that has no record: creates its CA secret with the lease
 * (the one write), or takes over an expired one (a crashed create: one more write, which also
 * names the places the crashed one left, so a DELETE before this run's record still finds them).
 * `conflict` while another create holds it. Returns the holder, and what a taken-over create left.
 */
export async function takeCreationLease(deps: AppDeps, state: LinkState, spec: LinkSpec): Promise<{ holder: string; stopped?: StoppedCreation }> {
  const id = secretIdOf(deps, spec.name, 'ca');
  const creation: Creation = { lease: newLease(deps, deps.clock()), state, places: linkPlaces(spec), istioApiVersion: spec.istioApiVersion };
  const holder = creation.lease.holder;
  try {
    await deps.store.createSecret(id, { labels: storeLabels(spec.name, 'ca'), annotations: { [ANNOTATION_CREATING]: JSON.stringify(creation) } });
    return { holder };
  } catch (err) {
    if (!isMeshlinkError(err, 'already-exists')) throw err;
  }
  const meta = await deps.store.getSecret(id);
  const before = readCreation(meta);
  if (before && new Date(before.lease.until) > deps.clock()) throw heldError(spec.name, before.lease.until);
  const left = before ? stalePlaces(before.places, spec) : [];
  const taken: Creation = { ...creation, places: [...creation.places, ...left] };
  try {
    await deps.store.updateAnnotations(id, { ...meta.annotations, [ANNOTATION_CREATING]: JSON.stringify(taken) }, meta.etag);
  } catch (err) {
    if (isMeshlinkError(err, 'conflict')) throw heldError(spec.name, creation.lease.until);
    throw err;
  }
  return before ? { holder, stopped: { state: before.state, left } } : { holder };
}

/**
 * Ends `holder`'s creation lease (a create that failed and may be retried at once: a 503), keeping
 * what DELETE needs. Best effort, like a record's lease release: refused, it runs out.
 */
export async function releaseCreationLease(deps: AppDeps, link: string, holder: string): Promise<void> {
  const id = secretIdOf(deps, link, 'ca');
  try {
    const meta = await deps.store.getSecret(id);
    const creation = readCreation(meta);
    if (creation?.lease.holder !== holder) return;
    const ended = { ...creation, lease: { holder, until: deps.clock().toISOString() } };
    await deps.store.updateAnnotations(id, { ...meta.annotations, [ANNOTATION_CREATING]: JSON.stringify(ended) }, meta.etag);
  } catch (err) {
    deps.log.warn('could not release creation lease', { link, reason: String(err) });
  }
}

/**
 * A link with no record, as DELETE sees it: a tombstone of its creation (its claims and places,
 * the lease a running create holds), unsaved: its first save creates the record. Undefined when
 * its CA secret holds no creation (none was started, or older code made it).
 */
export async function halfCreated(deps: AppDeps, link: string): Promise<LinkRecord | undefined> {
  let meta: SecretMetadata;
  try {
    meta = await deps.store.getSecret(secretIdOf(deps, link, 'ca'));
  } catch (err) {
    if (isMeshlinkError(err, 'not-found')) return undefined;
    throw err;
  }
  const creation = readCreation(meta);
  if (!creation) return undefined;
  const state: LinkState = { ...creation.state, lease: creation.lease, deleted: { at: deps.clock().toISOString(), istioApiVersion: creation.istioApiVersion }, stale: creation.places };
  return new LinkRecord(deps, link, undefined, state);
}

/** The store secrets labelled for a link (claims taken before its CA secret, by a create that stopped there). */
export async function labelledFor(deps: AppDeps, link: string): Promise<SecretMetadata[]> {
  const page = await deps.store.listSecrets({ labels: { [STORE_LABEL_MANAGED_BY]: MANAGER, [STORE_LABEL_LINK]: link } });
  return page.secrets;
}
