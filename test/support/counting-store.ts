// A SecretStore decorator that counts calls per method: tests and benchmarks assert the cost of a
// use-case in list pages, payload reads and writes (the quotas that matter on Secret Manager).
import type { AccessedVersion, ListQuery, SecretMetadata, SecretPage, SecretStore, SecretVersionInfo } from '../../shared/store/port.js';

export type StoreMethod = keyof SecretStore;

const WRITES: readonly StoreMethod[] = ['createSecret', 'updateAnnotations', 'deleteSecret', 'addVersion', 'disableVersion', 'destroyVersion'];
const METADATA_READS: readonly StoreMethod[] = ['getSecret', 'listSecrets', 'listVersions'];

export class CountingStore implements SecretStore {
  /** Calls per method, failed ones included (they cost quota too). */
  readonly calls: Record<StoreMethod, number> = CountingStore.zero();

  constructor(readonly inner: SecretStore) {}

  private static zero(): Record<StoreMethod, number> {
    return {
      createSecret: 0,
      getSecret: 0,
      listSecrets: 0,
      updateAnnotations: 0,
      deleteSecret: 0,
      addVersion: 0,
      accessVersion: 0,
      listVersions: 0,
      disableVersion: 0,
      destroyVersion: 0,
    };
  }

  /** Listing pages fetched. */
  get listPages(): number {
    return this.calls.listSecrets;
  }

  /** Payload reads (Secret Manager's "access" quota). */
  get payloadReads(): number {
    return this.calls.accessVersion;
  }

  /** Metadata reads (Secret Manager's "read" quota: get and list). */
  get metadataReads(): number {
    return METADATA_READS.reduce((n, m) => n + this.calls[m], 0);
  }

  /** Writes (Secret Manager's "write" quota). */
  get writes(): number {
    return WRITES.reduce((n, m) => n + this.calls[m], 0);
  }

  reset(): void {
    Object.assign(this.calls, CountingStore.zero());
  }

  createSecret(id: string, meta: { labels: Record<string, string>; annotations: Record<string, string> }): Promise<SecretMetadata> {
    this.calls.createSecret++;
    return this.inner.createSecret(id, meta);
  }

  getSecret(id: string): Promise<SecretMetadata> {
    this.calls.getSecret++;
    return this.inner.getSecret(id);
  }

  listSecrets(query: ListQuery): Promise<SecretPage> {
    this.calls.listSecrets++;
    return this.inner.listSecrets(query);
  }

  updateAnnotations(id: string, annotations: Record<string, string>, etag: string): Promise<SecretMetadata> {
    this.calls.updateAnnotations++;
    return this.inner.updateAnnotations(id, annotations, etag);
  }

  deleteSecret(id: string, etag?: string): Promise<void> {
    this.calls.deleteSecret++;
    return this.inner.deleteSecret(id, etag);
  }

  addVersion(id: string, payload: Uint8Array): Promise<string> {
    this.calls.addVersion++;
    return this.inner.addVersion(id, payload);
  }

  accessVersion(id: string, version?: string): Promise<AccessedVersion> {
    this.calls.accessVersion++;
    return this.inner.accessVersion(id, version);
  }

  listVersions(id: string): Promise<SecretVersionInfo[]> {
    this.calls.listVersions++;
    return this.inner.listVersions(id);
  }

  disableVersion(id: string, version: string): Promise<void> {
    this.calls.disableVersion++;
    return this.inner.disableVersion(id, version);
  }

  destroyVersion(id: string, version: string): Promise<void> {
    this.calls.destroyVersion++;
    return this.inner.destroyVersion(id, version);
  }
}
