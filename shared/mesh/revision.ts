// Content revisions of rendered objects: a short hash that lets apply skip objects whose live copy is current.
import { createHash } from 'node:crypto';
import { MeshlinkError } from '../errors.js';
import { ANNOTATION_REVISION, ANNOTATION_SOURCE } from '../link/names.js';
import type { KubeObject } from '../clusters/port.js';

/** Hex characters kept of the SHA-256: 64 bits, plenty to tell two versions of one object apart. */
const REVISION_LENGTH = 16;

/**
 * JSON with object keys sorted at every level, so equal content always gives equal text whatever
 * order the keys were built in. Like JSON.stringify, drops undefined properties.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
    return sorted;
  }
  return value;
}

function isSecret(obj: KubeObject): boolean {
  return obj.apiVersion === 'v1' && obj.kind === 'Secret';
}

/**
 * The revision of an object: hash of its canonical JSON without the revision annotation itself.
 * A Secret is hashed without its key material (`data`, `stringData`): its `meshlink.io/source`
 * annotation names the store version it projects, so the source stands for the content and no
 * hash of a private key ends up readable in cluster metadata.
 */
export function revisionOf(obj: KubeObject): string {
  const { [ANNOTATION_REVISION]: _ignored, ...annotations } = obj.metadata.annotations ?? {};
  let hashed: Record<string, unknown> = { ...obj, metadata: { ...obj.metadata, annotations } };
  if (isSecret(obj)) {
    if (!annotations[ANNOTATION_SOURCE]) {
      // Without a source the revision would not change with the content: apply would skip real updates.
      throw new MeshlinkError('internal', `Secret ${obj.metadata.name} has no ${ANNOTATION_SOURCE} annotation to derive its revision from`);
    }
    const { data: _data, stringData: _stringData, ...rest } = hashed;
    hashed = rest;
  }
  return createHash('sha256').update(canonicalJson(hashed)).digest('hex').slice(0, REVISION_LENGTH);
}

/** A copy of the object carrying its revision annotation (any stale revision is replaced). */
export function withRevision<T extends KubeObject>(obj: T): T {
  return {
    ...obj,
    metadata: { ...obj.metadata, annotations: { ...obj.metadata.annotations, [ANNOTATION_REVISION]: revisionOf(obj) } },
  };
}
