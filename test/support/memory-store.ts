// An in-memory SecretStore with the same semantics as the file store: for unit tests of the
// use-cases and for benchmarks.
import type { Clock } from '../../shared/clock.js';
import { cloneRecord, type SecretRecord } from '../../shared/store/model.js';
import { RecordStore, type RecordBackend } from '../../shared/store/record-store.js';

let nextScope = 0;

class MemoryBackend implements RecordBackend {
  readonly lockScope = `memory:${nextScope++}`;
  private readonly records = new Map<string, SecretRecord>();
  private readonly payloads = new Map<string, Uint8Array>();

  async read(id: string): Promise<SecretRecord | undefined> {
    const record = this.records.get(id);
    return record && cloneRecord(record);
  }

  async write(record: SecretRecord): Promise<void> {
    this.records.set(record.id, cloneRecord(record));
  }

  async remove(id: string): Promise<void> {
    const record = this.records.get(id);
    for (const v of record?.versions ?? []) this.payloads.delete(`${id}/${v.version}`);
    this.records.delete(id);
  }

  async readAll(): Promise<SecretRecord[]> {
    return [...this.records.values()];
  }

  async writeVersion(record: SecretRecord, version: number, payload: Uint8Array): Promise<void> {
    this.payloads.set(`${record.id}/${version}`, Uint8Array.from(payload));
    await this.write(record);
  }

  async readPayload(id: string, version: number): Promise<Uint8Array | undefined> {
    const payload = this.payloads.get(`${id}/${version}`);
    return payload && Uint8Array.from(payload);
  }

  async erasePayload(id: string, version: number): Promise<void> {
    this.payloads.delete(`${id}/${version}`);
  }
}

export class InMemoryStore extends RecordStore {
  constructor(options: { clock?: Clock } = {}) {
    super(new MemoryBackend(), options);
  }
}
