// Where a link's spec is kept and how it is read back. A spec that fits SPEC_ANNOTATION_BYTES is
// the link secret's `meshlink-spec` annotation, written by the state save that records it (no
// write of its own, and a read of the link's metadata brings it: no payload read); a larger one
// (a partner's `caCertificates` bundle has no bound) is a version of the link secret, as every
// spec was before. Read leniently: one stored by older code that no longer validates is still
// read for where it put the link, so it can be deleted or replaced.
import { createHash } from 'node:crypto';
import { isMeshlinkError } from '../errors.js';
import { linkPlaces, storedPlaces, type PlaceOwner } from '../link/places.js';
import { parseLinkSpec, type LinkSpec } from '../link/spec.js';
import type { StalePlace } from '../link/state.js';
import { canonicalJson } from '../mesh/revision.js';
import { versionsCreating } from './credentials.js';
import type { AppDeps } from './deps.js';
import type { LinkRecord } from './link-record.js';
import { decodeSpec, encodeSpec } from './payloads.js';

/**
 * The largest spec kept in the annotation. Secret Manager takes under 16 KiB of annotations per
 * secret, and the state shares them: a busy link's state (two CAs mid-rollover, ten request ids,
 * eight retired versions) measures 2.5 KiB, so 4 KiB for the spec leaves the state 12 KiB. A
 * spec without a partner bundle stays near 1 KiB even with the longest names.
 */
export const SPEC_ANNOTATION_BYTES = 4096;

/** The spec's identity: an unchanged spec is applied with no write. */
export function specHash(doc: unknown): string {
  return createHash('sha256').update(canonicalJson(doc)).digest('hex').slice(0, 32);
}

/** The spec document the link was last applied with: its annotation, or its version (one payload read). */
export async function readSpecDocument(deps: AppDeps, record: LinkRecord): Promise<unknown> {
  const version = record.state.specVersion;
  if (!version) return decodeSpec(new TextEncoder().encode(record.spec ?? ''), `${record.secretId} annotation meshlink-spec`);
  const { payload } = await deps.store.accessVersion(record.secretId, version);
  return decodeSpec(payload, `${record.secretId} version ${version}`);
}

/** The link's spec, validated. */
export async function readSpec(deps: AppDeps, record: LinkRecord): Promise<LinkSpec> {
  return parseLinkSpec(await readSpecDocument(deps, record));
}

/**
 * Puts the spec where it goes and returns the `specVersion` to record with it in the next state
 * save: '' with the annotation set on the record, or a version. A version is the newest one if it
 * holds this very spec and the state names no later one (a run stopped before its state save
 * stored it: adopted, not stored again), else a new one; one metadata read, a payload read only
 * when there is a version to adopt.
 */
export async function storeSpec(deps: AppDeps, record: LinkRecord, doc: unknown, hash: string): Promise<string> {
  const text = JSON.stringify(doc);
  if (Buffer.byteLength(text) <= SPEC_ANNOTATION_BYTES) {
    record.spec = text;
    return '';
  }
  record.spec = undefined;
  // A new link's record is not written yet: the secret is made for the version, without a state (link-record.ts).
  const newest = (await versionsCreating(deps, record.link, 'link')).find((v) => v.state === 'ENABLED');
  record.secretMade = true;
  if (newest && Number(newest.version) > Number(record.state.specVersion || 0)) {
    const { payload } = await deps.store.accessVersion(record.secretId, newest.version);
    if (specHash(decodeSpec(payload, `${record.secretId} version ${newest.version}`)) === hash) {
      deps.log.info('adopting spec version stored by an interrupted run', { link: record.link, version: newest.version });
      return newest.version;
    }
  }
  return deps.store.addVersion(record.secretId, encodeSpec(doc));
}

export interface StoredSpec {
  /** The spec, when it still validates. */
  spec?: LinkSpec;
  owner: PlaceOwner;
  /** Where it put the link (link/places.ts linkPlaces, or storedPlaces when it does not validate). */
  places: StalePlace[];
}

/** The link's stored spec (the state must say it is stored: specStored). */
export async function readStoredSpec(deps: AppDeps, record: LinkRecord): Promise<StoredSpec> {
  const doc = await readSpecDocument(deps, record);
  try {
    const spec = parseLinkSpec(doc);
    return { spec, owner: spec, places: linkPlaces(spec) };
  } catch (err) {
    if (!isMeshlinkError(err, 'invalid-argument')) throw err;
    deps.log.warn('stored spec no longer validates; reading it for its places', { link: record.link, reason: err.details.map((d) => `${d.path}: ${d.message}`).join('; ') });
    return storedPlaces(record.link, doc, record.state);
  }
}
