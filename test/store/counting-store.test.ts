// CountingStore: counts each call by method and sums them into the quota buckets.
import { describe, expect, it } from 'vitest';
import { CountingStore } from '../support/counting-store.js';
import { InMemoryStore } from '../support/memory-store.js';

describe('CountingStore', () => {
  it('counts calls per method, failed ones included, and groups them by quota', async () => {
    const store = new CountingStore(new InMemoryStore());
    const created = await store.createSecret('s', { labels: {}, annotations: {} });
    await store.addVersion('s', new Uint8Array([1]));
    await store.accessVersion('s');
    await store.accessVersion('s', '1');
    await store.listSecrets({ labels: {} });
    await store.getSecret('s');
    await store.updateAnnotations('s', { a: '1' }, created.etag).catch(() => undefined);
    await store.updateAnnotations('s', { a: '2' }, created.etag).catch(() => undefined); // stale: conflict
    await store.getSecret('missing').catch(() => undefined);

    expect(store.calls).toMatchObject({ createSecret: 1, addVersion: 1, accessVersion: 2, listSecrets: 1, getSecret: 2, updateAnnotations: 2, deleteSecret: 0 });
    expect({ pages: store.listPages, payloads: store.payloadReads, metadata: store.metadataReads, writes: store.writes }).toEqual({ pages: 1, payloads: 2, metadata: 3, writes: 4 });
    store.reset();
    expect(store.writes + store.metadataReads + store.payloadReads).toBe(0);
  });

  it('passes results through from the wrapped store', async () => {
    const store = new CountingStore(new InMemoryStore());
    await store.createSecret('s', { labels: { k: 'v' }, annotations: {} });
    expect(await store.getSecret('s')).toEqual(await store.inner.getSecret('s'));
  });
});
