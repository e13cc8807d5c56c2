// Reading the spec a link was last applied with, leniently: one stored by older code that no
// longer validates is still read for where it put the link, so it can be deleted or replaced.
import { isMeshlinkError } from '../errors.js';
import { linkPlaces, storedPlaces, type PlaceOwner } from '../link/places.js';
import { parseLinkSpec, type LinkSpec } from '../link/spec.js';
import type { StalePlace } from '../link/state.js';
import type { AppDeps } from './deps.js';
import type { LinkRecord } from './link-record.js';
import { decodeSpec } from './payloads.js';

export interface StoredSpec {
  /** The spec, when it still validates. */
  spec?: LinkSpec;
  owner: PlaceOwner;
  /** Where it put the link (link/places.ts linkPlaces, or storedPlaces when it does not validate). */
  places: StalePlace[];
}

/** The link's stored spec (the record must name a version). */
export async function readStoredSpec(deps: AppDeps, record: LinkRecord): Promise<StoredSpec> {
  const { payload } = await deps.store.accessVersion(record.secretId, record.state.specVersion);
  const doc = decodeSpec(payload, `${record.secretId} version ${record.state.specVersion}`);
  try {
    const spec = parseLinkSpec(doc);
    return { spec, owner: spec, places: linkPlaces(spec) };
  } catch (err) {
    if (!isMeshlinkError(err, 'invalid-argument')) throw err;
    deps.log.warn('stored spec no longer validates; reading it for its places', { link: record.link, reason: err.details.map((d) => `${d.path}: ${d.message}`).join('; ') });
    return storedPlaces(record.link, doc, record.state);
  }
}
