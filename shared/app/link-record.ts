// Loading and saving a link's state on its store secret, and the lease that lets exactly one
// worker change a link at a time (etag compare-and-swap: invariant 2).
import { randomUUID } from 'node:crypto';
import { MeshlinkError, isMeshlinkError } from '../errors.js';
import { MANAGER, STORE_LABEL_MANAGED_BY, STORE_LABEL_ROLE, storeLabels, storeSecretId } from '../link/names.js';
import { ANNOTATION_SPEC, ANNOTATION_STATE, STORE_ANNOTATION_PREFIX, decodeState, encodeState, leaseHeld, type LinkState } from '../link/state.js';
import { listPages, type SecretMetadata } from '../store/port.js';
import type { AppDeps } from './deps.js';

export function linkSecretId(deps: AppDeps, link: string): string {
  return storeSecretId(deps.settings.secretPrefix, link, 'link');
}

const LINK_SECRETS = { [STORE_LABEL_MANAGED_BY]: MANAGER, [STORE_LABEL_ROLE]: 'link' };

/** Every link's store secret (metadata and state, no payload), a page of `sweepPageSize` at a time. */
export function linkSecretPages(deps: AppDeps): AsyncGenerator<SecretMetadata[]> {
  return listPages(deps.store, { labels: LINK_SECRETS, pageSize: deps.settings.sweepPageSize });
}

/** Every link's store secret, across the pages. */
export async function* listLinkSecrets(deps: AppDeps): AsyncGenerator<SecretMetadata> {
  for await (const page of linkSecretPages(deps)) yield* page;
}

/**
 * A link's record: its state and the etag it was read at; or, without metadata, a record not
 * written yet (a new link's, app/provision.ts), which its first save creates.
 */
export class LinkRecord {
  constructor(
    private readonly deps: AppDeps,
    readonly link: string,
    private meta: SecretMetadata | undefined,
    public state: LinkState,
  ) {
    this.spec = meta?.annotations[ANNOTATION_SPEC];
  }

  /**
   * The spec document (JSON) kept in the `meshlink-spec` annotation, written with every save;
   * undefined when the spec is in a version (`state.specVersion`) or not stored (stored-spec.ts).
   */
  spec: string | undefined;

  /** A record not written yet whose secret exists (made for a large spec's version): its first save initialises it. */
  secretMade = false;

  get secretId(): string {
    return this.meta?.id ?? linkSecretId(this.deps, this.link);
  }

  /** The lease holder while `withLease` runs on this record: each save then extends the lease. */
  leaseHolder: string | undefined;

  /**
   * Writes the state if it changed; `conflict` if someone else wrote since we read. A save under
   * our lease also pushes its end `leaseMs` out, so a long run (a rollover's many steps, cluster
   * retries) does not lose the lease half-way as long as it keeps saving.
   */
  async save(): Promise<void> {
    if (this.meta && this.meta.annotations[ANNOTATION_STATE] === JSON.stringify(this.state) && this.meta.annotations[ANNOTATION_SPEC] === this.spec) return;
    const now = this.deps.clock();
    const lease = this.leaseHolder && this.state.lease?.holder === this.leaseHolder ? { lease: { holder: this.leaseHolder, until: new Date(now.getTime() + this.deps.settings.leaseMs).toISOString() } } : {};
    this.state = { ...this.state, ...lease, updatedAt: now.toISOString() };
    if (!this.meta) {
      this.meta = await createRecord(this.deps, this.link, linkAnnotations(this.state, this.spec), this.secretMade);
      return;
    }
    // Keep annotations others put on the secret; replace only meshlink's own.
    const others = Object.fromEntries(Object.entries(this.meta.annotations).filter(([k]) => !k.startsWith(STORE_ANNOTATION_PREFIX)));
    this.meta = await this.deps.store.updateAnnotations(this.meta.id, { ...others, ...linkAnnotations(this.state, this.spec) }, this.meta.etag);
  }

  /**
   * Saves the state and releases the lease in one write (withLease then finds nothing to
   * release); refused, the lease stays in the state for withLease to release.
   */
  async saveAndRelease(): Promise<void> {
    const { lease, ...rest } = this.state;
    this.state = rest;
    try {
      await this.save();
    } catch (err) {
      if (lease) this.state = { ...this.state, lease };
      throw err;
    }
  }
}

/** meshlink's annotations on the link secret: the state, and the spec when the annotation holds it. */
function linkAnnotations(state: LinkState, spec: string | undefined): Record<string, string> {
  return { ...encodeState(state), ...(spec !== undefined ? { [ANNOTATION_SPEC]: spec } : {}) };
}

export async function loadLink(deps: AppDeps, link: string): Promise<LinkRecord | undefined> {
  const id = linkSecretId(deps, link);
  let meta: SecretMetadata;
  try {
    meta = await deps.store.getSecret(id);
  } catch (err) {
    if (isMeshlinkError(err, 'not-found')) return undefined;
    throw err;
  }
  const state = decodeState(meta.annotations, id);
  if (!state) return undefined; // created but never initialised: treated as absent, create completes it
  return new LinkRecord(deps, link, meta, state);
}

/** A lease for a new holder, from `now`. */
export function newLease(deps: AppDeps, now: Date): { holder: string; until: string } {
  return { holder: `${deps.workerId}/${randomUUID()}`, until: new Date(now.getTime() + deps.settings.leaseMs).toISOString() };
}

/**
 * Creates the link secret with these annotations: a new link's record, written once with its
 * complete state. A secret without a state (made for a large spec's version, stored-spec.ts) is
 * initialised; one with a state is another worker's record: `conflict`.
 */
async function createRecord(deps: AppDeps, link: string, annotations: Record<string, string>, exists: boolean): Promise<SecretMetadata> {
  const id = linkSecretId(deps, link);
  if (!exists) {
    try {
      return await deps.store.createSecret(id, { labels: storeLabels(link, 'link'), annotations });
    } catch (err) {
      if (!isMeshlinkError(err, 'already-exists')) throw err;
    }
  }
  const meta = await deps.store.getSecret(id);
  if (decodeState(meta.annotations, id)) throw new MeshlinkError('conflict', `link ${link} was created by another worker meanwhile; try again`);
  return deps.store.updateAnnotations(id, { ...meta.annotations, ...annotations }, meta.etag);
}

/** The lease as a compare-and-swap write on the state; returns the holder. */
async function takeLease(deps: AppDeps, record: LinkRecord, options: LeaseOptions): Promise<string> {
  const now = deps.clock();
  if (leaseHeld(record.state, now)) {
    throw new MeshlinkError('conflict', `link ${record.link} is being changed by another worker until ${record.state.lease!.until}; try again`);
  }
  const lease = newLease(deps, now);
  record.state = { ...(options.record?.(record.state) ?? record.state), lease };
  try {
    await record.save();
  } catch (err) {
    if (isMeshlinkError(err, 'conflict')) {
      throw new MeshlinkError('conflict', `link ${record.link} was changed by another worker; try again`, { cause: err });
    }
    throw err;
  }
  return lease.holder;
}

export interface LeaseOptions {
  /** A change saved in the same write as the lease (one UpdateSecret instead of two). */
  record?: (state: LinkState) => LinkState;
}

/**
 * Runs `work` while holding the link's lease. The lease is a compare-and-swap on the state
 * annotation: a second worker sees it held and gets `conflict`; a crashed holder's lease expires
 * after `leaseMs`, and the next run completes its work (invariant 5).
 */
export async function withLease<T>(deps: AppDeps, record: LinkRecord, work: (record: LinkRecord) => Promise<T>, options: LeaseOptions = {}): Promise<T> {
  const holder = await takeLease(deps, record, options);
  record.leaseHolder = holder;
  try {
    return await work(record);
  } finally {
    record.leaseHolder = undefined;
    if (record.state.lease?.holder === holder) {
      const { lease: _released, ...rest } = record.state;
      record.state = rest;
      await record.save().catch((err: unknown) => deps.log.warn('could not release lease', { link: record.link, reason: String(err) }));
    }
  }
}
