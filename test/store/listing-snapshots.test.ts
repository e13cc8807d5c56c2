// ListingSnapshots: a listing of N secrets reads the records once, not once a page, and a
// continuation it no longer holds gives the same pages as a fresh keyset listing.
import { describe, expect, it } from 'vitest';
import { ListingSnapshots } from '../../shared/store/model.js';
import type { ListQuery, SecretMetadata, SecretPage } from '../../shared/store/port.js';

function secrets(n: number, label = 'a'): SecretMetadata[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `s${String(i).padStart(3, '0')}`,
    labels: { group: i % 2 === 0 ? label : 'other' },
    annotations: {},
    etag: `"e${i}"`,
    createTime: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  }));
}

/** Records behind a counter of full reads. */
function source(all: SecretMetadata[]) {
  const s = { reads: 0, readAll: async () => (s.reads++, all) };
  return s;
}

async function pageThrough(page: (q: ListQuery) => Promise<SecretPage>, labels: Record<string, string>, pageSize: number): Promise<string[][]> {
  const pages: string[][] = [];
  let pageToken: string | undefined;
  do {
    const p = await page({ labels, pageSize, ...(pageToken ? { pageToken } : {}) });
    pages.push(p.secrets.map((x) => x.id));
    pageToken = p.nextPageToken;
  } while (pageToken);
  return pages;
}

/** A fresh keyset listing: snapshots that keep nothing read every page from the records. */
function listPage(all: SecretMetadata[], q: ListQuery): Promise<SecretPage> {
  return new ListingSnapshots(0).page(q, async () => all);
}

describe('ListingSnapshots', () => {
  const all = secrets(50);
  const fresh = (q: ListQuery) => listPage(all, q);

  it('reads every record once for a whole listing, with the pages a keyset listing gives', async () => {
    const src = source(all);
    const snapshots = new ListingSnapshots();
    const pages = await pageThrough((q) => snapshots.page(q, src.readAll), { group: 'a' }, 4);
    expect(pages).toEqual(await pageThrough(fresh, { group: 'a' }, 4));
    expect(pages.flat()).toHaveLength(25);
    expect(src.reads).toBe(1);
  });

  it('falls back to a keyset read for a continuation it does not hold (another instance, expired)', async () => {
    const src = source(all);
    const first = await new ListingSnapshots().page({ labels: { group: 'a' }, pageSize: 4 }, src.readAll);
    const other = new ListingSnapshots();
    const second = await other.page({ labels: { group: 'a' }, pageSize: 4, pageToken: first.nextPageToken! }, src.readAll);
    expect(second).toEqual(await listPage(all, { labels: { group: 'a' }, pageSize: 4, pageToken: first.nextPageToken! }));
    expect(src.reads).toBe(2);
  });

  it('forgets a listing after its time to live', async () => {
    const src = source(all);
    const snapshots = new ListingSnapshots(1000);
    const first = await snapshots.page({ labels: { group: 'a' }, pageSize: 4 }, src.readAll, 0);
    await snapshots.page({ labels: { group: 'a' }, pageSize: 4, pageToken: first.nextPageToken! }, src.readAll, 1000);
    expect(src.reads).toBe(2);
  });

  it('does not hand one query the listing of another with the same token', async () => {
    const src = source(all);
    const snapshots = new ListingSnapshots();
    const first = await snapshots.page({ labels: {}, pageSize: 4 }, src.readAll);
    const filtered = await snapshots.page({ labels: { group: 'a' }, pageSize: 4, pageToken: first.nextPageToken! }, src.readAll);
    expect(filtered).toEqual(await listPage(all, { labels: { group: 'a' }, pageSize: 4, pageToken: first.nextPageToken! }));
  });

  it('keeps at most its bound of listings, and the evicted one still pages correctly', async () => {
    const src = source(all);
    const snapshots = new ListingSnapshots(60_000, 2);
    const queries: Record<string, string>[] = [{ group: 'a' }, { group: 'other' }, {}];
    const starts = [];
    for (const labels of queries) starts.push(await snapshots.page({ labels, pageSize: 10 }, src.readAll));
    for (const [i, labels] of [...queries.entries()].reverse()) {
      const q = { labels, pageSize: 10, pageToken: starts[i]!.nextPageToken! };
      expect(await snapshots.page(q, src.readAll)).toEqual(await listPage(all, q));
    }
    expect(src.reads).toBe(4); // three first pages, then the oldest listing (evicted) read again
  });

  it('rejects a bad page token with the field named, as listPage does', async () => {
    await expect(new ListingSnapshots().page({ labels: {}, pageToken: 'not-a-token' }, source(all).readAll)).rejects.toMatchObject({ code: 'invalid-argument' });
  });
});
