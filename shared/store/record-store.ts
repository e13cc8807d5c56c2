// A SecretStore over any record persistence (memory, files): applies the semantic core under a
// per-secret lock so concurrent callers in one process never lose an update.
import { MeshlinkError } from '../errors.js';
import { systemClock, type Clock } from '../clock.js';
import { KeyedLock } from '../keyed-lock.js';
import { crc32c } from './crc32c.js';
import {
  checkEtag,
  createRecord,
  ListingSnapshots,
  parseVersion,
  readableVersion,
  requireEtag,
  toMetadata,
  validatePayload,
  validateSecretId,
  versionInfos,
  withAnnotations,
  withNewVersion,
  withVersionState,
  type SecretRecord,
} from './model.js';
import type { AccessedVersion, ListQuery, SecretMetadata, SecretPage, SecretStore, SecretVersionInfo, VersionState } from './port.js';

/** Where records and payloads live. Records never contain payloads. */
export interface RecordBackend {
  /** A key that identifies the underlying storage, so stores sharing it share locks. */
  readonly lockScope: string;
  read(id: string): Promise<SecretRecord | undefined>;
  /** `create` is set for a new secret: the backend may refuse with `already-exists`. */
  write(record: SecretRecord, create: boolean): Promise<void>;
  remove(id: string): Promise<void>;
  /** Every record, metadata only. */
  readAll(): Promise<SecretRecord[]>;
  /**
   * Stores the payload of `version` and `record`, which names it: the payload is durable no later
   * than the record is (the file store writes both in one journal frame), never a version without
   * its payload.
   */
  writeVersion(record: SecretRecord, version: number, payload: Uint8Array): Promise<void>;
  /** `undefined` when the payload is gone. */
  readPayload(id: string, version: number): Promise<Uint8Array | undefined>;
  /** Idempotent. */
  erasePayload(id: string, version: number): Promise<void>;
}

/** Shared by every store in the process, keyed by backend scope: two stores on one directory share locks. */
const locks = new KeyedLock();

export interface RecordStoreOptions {
  clock?: Clock;
}

export class RecordStore implements SecretStore {
  private readonly clock: Clock;
  private readonly listings = new ListingSnapshots();

  constructor(
    private readonly backend: RecordBackend,
    options: RecordStoreOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
  }

  private async locked<T>(id: string, work: () => Promise<T>): Promise<T> {
    validateSecretId(id);
    return locks.run(`${this.backend.lockScope}\0${id}`, work);
  }

  private async load(id: string): Promise<SecretRecord> {
    validateSecretId(id);
    const record = await this.backend.read(id);
    if (!record) throw new MeshlinkError('not-found', `secret ${id} not found`);
    return record;
  }

  async createSecret(id: string, meta: { labels: Record<string, string>; annotations: Record<string, string> }): Promise<SecretMetadata> {
    return this.locked(id, async () => {
      const record = createRecord(id, meta, this.clock());
      if (await this.backend.read(id)) throw new MeshlinkError('already-exists', `secret ${id} already exists`);
      await this.backend.write(record, true);
      return toMetadata(record);
    });
  }

  async getSecret(id: string): Promise<SecretMetadata> {
    return toMetadata(await this.load(id));
  }

  async listSecrets(query: ListQuery): Promise<SecretPage> {
    // Wall time, not the store's clock: it bounds how long a listing is kept in memory.
    return this.listings.page(query, () => this.backend.readAll());
  }

  async updateAnnotations(id: string, annotations: Record<string, string>, etag: string): Promise<SecretMetadata> {
    requireEtag(etag);
    return this.locked(id, async () => {
      const next = withAnnotations(await this.load(id), annotations, etag);
      await this.backend.write(next, false);
      return toMetadata(next);
    });
  }

  async deleteSecret(id: string, etag?: string): Promise<void> {
    return this.locked(id, async () => {
      checkEtag(await this.load(id), etag);
      await this.backend.remove(id);
    });
  }

  async addVersion(id: string, payload: Uint8Array): Promise<string> {
    validatePayload(payload);
    return this.locked(id, async () => {
      const { record, version } = withNewVersion(await this.load(id), crc32c(payload), this.clock());
      await this.backend.writeVersion(record, version.version, payload);
      return String(version.version);
    });
  }

  async accessVersion(id: string, version = 'latest'): Promise<AccessedVersion> {
    return this.locked(id, async () => {
      const found = readableVersion(await this.load(id), version);
      const payload = await this.backend.readPayload(id, found.version);
      if (!payload || crc32c(payload) !== found.crc32c) {
        throw new MeshlinkError('internal', `payload of version ${found.version} of secret ${id} is missing or corrupt`);
      }
      return { version: String(found.version), payload };
    });
  }

  async listVersions(id: string): Promise<SecretVersionInfo[]> {
    return versionInfos(await this.load(id));
  }

  async disableVersion(id: string, version: string): Promise<void> {
    return this.setState(id, version, 'DISABLED');
  }

  async destroyVersion(id: string, version: string): Promise<void> {
    await this.setState(id, version, 'DESTROYED');
  }

  private async setState(id: string, version: string, state: VersionState): Promise<void> {
    const number = parseVersion(version, false) as number;
    return this.locked(id, async () => {
      const current = await this.load(id);
      const next = withVersionState(current, number, state);
      if (next !== current) await this.backend.write(next, false);
      // Erased after the record says DESTROYED, and again on every repeat, so a crash in
      // between never leaves a readable version without its payload, nor a payload forever.
      if (state === 'DESTROYED') await this.backend.erasePayload(id, number);
    });
  }
}
