// The SecretStore port: what the use-cases need from a secret store, in plain data (no SDK types).
// Shaped after Google Secret Manager: secrets carry labels (for filtering) and annotations (for
// metadata), hold numbered immutable versions, and take etag preconditions on updates.
// Adapters translate their own failures into MeshlinkError codes: not-found, already-exists,
// conflict (etag mismatch), permission-denied, unavailable (retryable), invalid-argument.
import { MeshlinkError } from '../errors.js';

export interface SecretMetadata {
  /** The short secret id (`meshlink-mysql-server`), never the full resource name. */
  id: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Opaque; pass back unchanged as a precondition. Changes on every update. */
  etag: string;
  /** RFC 3339. */
  createTime: string;
}

export type VersionState = 'ENABLED' | 'DISABLED' | 'DESTROYED';

export interface SecretVersionInfo {
  /** Decimal version number as a string: "1", "2", ... */
  version: string;
  state: VersionState;
  createTime: string;
}

export interface SecretPage {
  secrets: SecretMetadata[];
  /** Absent on the last page. */
  nextPageToken?: string;
}

export interface ListQuery {
  /** Every label must match exactly. */
  labels: Record<string, string>;
  pageSize?: number;
  pageToken?: string;
}

export interface AccessedVersion {
  version: string;
  payload: Uint8Array;
}

export interface SecretStore {
  /** Creates an empty secret; `already-exists` if the id is taken. */
  createSecret(id: string, meta: { labels: Record<string, string>; annotations: Record<string, string> }): Promise<SecretMetadata>;
  /** `not-found` if absent. */
  getSecret(id: string): Promise<SecretMetadata>;
  /** Metadata only, one page at a time: never reads a payload. */
  listSecrets(query: ListQuery): Promise<SecretPage>;
  /** Replaces the annotation map; `conflict` when the etag no longer matches. */
  updateAnnotations(id: string, annotations: Record<string, string>, etag: string): Promise<SecretMetadata>;
  /** Deletes the secret and all its versions; `conflict` when a given etag no longer matches. */
  deleteSecret(id: string, etag?: string): Promise<void>;
  /** Adds an ENABLED version and returns its number. */
  addVersion(id: string, payload: Uint8Array): Promise<string>;
  /** Reads a version (`latest` = newest ENABLED); `not-found` if none, or if the version is not ENABLED. */
  accessVersion(id: string, version?: string): Promise<AccessedVersion>;
  /** Every version, newest first. */
  listVersions(id: string): Promise<SecretVersionInfo[]>;
  disableVersion(id: string, version: string): Promise<void>;
  /** Irreversible: the payload is gone. */
  destroyVersion(id: string, version: string): Promise<void>;
}

/**
 * Reads a secret meshlink does not own, by full resource name (`projects/P/secrets/S`): an
 * issuer's bundle the organisation manages. Read only; errors as SecretStore's.
 */
export interface ForeignSecretReader {
  /** The newest ENABLED version. */
  readForeignSecret(resourceName: string): Promise<AccessedVersion>;
}

/** `projects/P/secrets/S` (a global secret; a regional one adds `locations/L`). */
export const FOREIGN_SECRET_NAME = /^projects\/([a-z0-9-]{1,63})(\/locations\/([a-z0-9-]{1,63}))?\/secrets\/([A-Za-z0-9_-]{1,255})$/;

/**
 * The stand-in where the store is not Secret Manager (the local store, tests): the store stands
 * for the organisation's project, and `projects/P/secrets/S` is its secret `S`.
 */
export function sameStoreForeignSecrets(store: SecretStore): ForeignSecretReader {
  return {
    readForeignSecret: (resourceName) => {
      const match = FOREIGN_SECRET_NAME.exec(resourceName);
      if (!match) throw new MeshlinkError('invalid-argument', `not a secret resource name: ${resourceName}`);
      return store.accessVersion(match[4]!, 'latest');
    },
  };
}

/** Every page of a listing, in order: the sweep's one way to see all links. */
export async function* listPages(store: SecretStore, query: Omit<ListQuery, 'pageToken'>): AsyncGenerator<SecretMetadata[]> {
  let pageToken: string | undefined;
  do {
    const page = await store.listSecrets({ ...query, ...(pageToken ? { pageToken } : {}) });
    yield page.secrets;
    pageToken = page.nextPageToken;
  } while (pageToken);
}

/** Every secret of a listing, across its pages. */
export async function* listAllSecrets(store: SecretStore, query: Omit<ListQuery, 'pageToken'>): AsyncGenerator<SecretMetadata> {
  for await (const page of listPages(store, query)) yield* page;
}
