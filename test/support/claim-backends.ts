// Where a test app's claims are kept, so claim tests run over each ClaimStore adapter: secrets of
// the store (the default) or a Cloud Storage bucket, through the real client against the fake.
import { afterEach } from 'vitest';
import { CloudStorageClaims } from '../../shared/store/claims/cloud-storage-claims.js';
import { secretClaims, type ClaimStore } from '../../shared/store/claims/port.js';
import { STORE_LABEL_LINK } from '../../shared/link/names.js';
import type { Clock } from '../../shared/clock.js';
import type { AppDeps } from '../../shared/app/deps.js';
import { startFakeCloudStorage, type FakeCloudStorage } from '../fakes/cloud-storage-server.js';
import { simulatedTiming } from './simulated-timing.js';

export const CLAIMS_BUCKET = 'meshlink-claims-test';

export type ClaimBackend = 'store secrets' | 'a Cloud Storage bucket';
export const CLAIM_BACKENDS: ClaimBackend[] = ['store secrets', 'a Cloud Storage bucket'];

const open: FakeCloudStorage[] = [];
afterEach(async () => {
  for (const fake of open.splice(0)) await fake.close();
});

/** A fake bucket and the adapter on it, the fake's clock the app's (a claim's age counts). */
export async function bucketClaims(clock: Clock): Promise<{ fake: FakeCloudStorage; claims: CloudStorageClaims }> {
  const fake = await startFakeCloudStorage({ buckets: [CLAIMS_BUCKET], clock });
  open.push(fake);
  return { fake, claims: new CloudStorageClaims({ bucket: CLAIMS_BUCKET, apiEndpoint: fake.url, timing: simulatedTiming() }) };
}

export interface ClaimView {
  /** Where the claims are: the bucket's adapter, or the store's secrets. */
  claims: ClaimStore;
  fake?: FakeCloudStorage;
  /** Who holds the claim `id`, if anyone. */
  holderOf(id: string): Promise<string | undefined>;
  /** Writes made on the bucket (creates and deletes). */
  objectWrites(): number;
  /** Metadata reads of the bucket. */
  objectReads(): number;
}

/** Gives `deps` the backend's claims (a bucket: deps.claims) and a view of them. */
export async function useClaims(backend: ClaimBackend, deps: AppDeps, clock: Clock): Promise<ClaimView> {
  const bucket = backend === 'a Cloud Storage bucket' ? await bucketClaims(clock) : undefined;
  if (bucket) deps.claims = bucket.claims;
  const claims = bucket?.claims ?? secretClaims(deps.store);
  const calls = (op: keyof FakeCloudStorage['calls']) => bucket?.fake.calls[op] ?? 0;
  return {
    claims,
    ...(bucket ? { fake: bucket.fake } : {}),
    holderOf: async (id) => (await claims.read(id))?.labels[STORE_LABEL_LINK],
    objectWrites: () => calls('objects.insert') + calls('objects.delete'),
    objectReads: () => calls('objects.get'),
  };
}
