// A bench-only SecretStore: the in-memory store with label listings served from an index, one page
// in O(page size), the way Secret Manager pages on its side. The in-memory and file stores list in
// O(all secrets) per page (they read and sort every record each time), which would swamp the
// sweep's own cost at 100,000 links; this store measures the sweep, not the local listing.
import { InMemoryStore } from '../../shared/store/memory-store.js';
import { effectivePageSize, matchesLabels, toMetadata } from '../../shared/store/model.js';
import type { ListQuery, SecretMetadata, SecretPage } from '../../shared/store/port.js';

export class IndexedMemoryStore extends InMemoryStore {
  /** Secrets by id, as last written (metadata only). */
  private readonly metas = new Map<string, SecretMetadata>();
  /** Per label query (canonical JSON): matching ids in creation order. */
  private readonly indexes = new Map<string, { labels: Record<string, string>; ids: string[] }>();

  override async createSecret(id: string, meta: { labels: Record<string, string>; annotations: Record<string, string> }): Promise<SecretMetadata> {
    const created = await super.createSecret(id, meta);
    this.metas.set(id, created);
    for (const index of this.indexes.values()) if (matchesLabels(created.labels, index.labels)) index.ids.push(id);
    return toMetadata(created);
  }

  override async updateAnnotations(id: string, annotations: Record<string, string>, etag: string): Promise<SecretMetadata> {
    const updated = await super.updateAnnotations(id, annotations, etag);
    this.metas.set(id, updated);
    return toMetadata(updated);
  }

  override async deleteSecret(id: string, etag?: string): Promise<void> {
    await super.deleteSecret(id, etag);
    this.metas.delete(id);
    for (const index of this.indexes.values()) index.ids = index.ids.filter((i) => i !== id);
  }

  override async listSecrets(query: ListQuery): Promise<SecretPage> {
    const key = JSON.stringify(Object.entries(query.labels).sort());
    let index = this.indexes.get(key);
    if (!index) {
      index = { labels: { ...query.labels }, ids: [...this.metas.values()].filter((m) => matchesLabels(m.labels, query.labels)).map((m) => m.id) };
      this.indexes.set(key, index);
    }
    const start = query.pageToken ? Number(query.pageToken) : 0;
    const end = start + effectivePageSize(query.pageSize);
    const secrets = index.ids.slice(start, end).map((id) => toMetadata(this.metas.get(id)!));
    return end < index.ids.length ? { secrets, nextPageToken: String(end) } : { secrets };
  }
}
