// Section 2, on the production stores: creates through handleApiRequest on the real Secret Manager
// client against its wire-level fake, with the claims kept as secrets or in a Cloud Storage bucket
// (the real storage client against its fake), clusters in memory. What is measured is calls per
// create, by RPC, for issue 18's budget of 8 Secret Manager writes; times are over loopback in one
// process and only indicative.
import { handleApiRequest } from '../../functions/http-api.js';
import { DEFAULT_SETTINGS, type AppDeps } from '../../shared/app/deps.js';
import { systemClock } from '../../shared/clock.js';
import { createLogger } from '../../shared/log.js';
import { CloudStorageClaims } from '../../shared/store/claims/cloud-storage-claims.js';
import { SecretManagerStore } from '../../shared/store/secret-manager-store.js';
import { startFakeCloudStorage } from '../fakes/cloud-storage-server.js';
import { startFakeSecretManager } from '../fakes/secret-manager-server.js';
import { MemoryClusters } from '../support/memory-clusters.js';
import { benchSpec } from './seed.js';
import { concurrent, summarize, type Summary } from './stats.js';

const CREATES = 24;
const BUCKET = 'meshlink-bench-claims';

/** Secret Manager's write RPCs (the 600-a-minute write quota) and its metadata reads (the read quota). */
const WRITES = ['CreateSecret', 'UpdateSecret', 'DeleteSecret', 'AddSecretVersion', 'DisableSecretVersion', 'EnableSecretVersion', 'DestroySecretVersion'];
const METADATA_READS = ['GetSecret', 'ListSecrets', 'GetSecretVersion', 'ListSecretVersions'];

export interface StoreCreateCase {
  claims: 'store secrets' | 'a Cloud Storage bucket';
  latency: Summary;
  /** Per create, by RPC name (only those called). */
  writesByRpc: Record<string, number>;
  writes: number;
  metadataReads: number;
  payloadReads: number;
  objectWrites: number;
  objectReads: number;
}

async function measureCase(claimsIn: StoreCreateCase['claims']): Promise<StoreCreateCase> {
  const sm = await startFakeSecretManager();
  const bucket = claimsIn === 'a Cloud Storage bucket' ? await startFakeCloudStorage({ buckets: [BUCKET] }) : undefined;
  const store = new SecretManagerStore({ project: sm.project, apiEndpoint: '127.0.0.1', port: sm.port, plaintext: true });
  try {
    const claims = bucket && new CloudStorageClaims({ bucket: BUCKET, apiEndpoint: bucket.url });
    const deps: AppDeps = { store, ...(claims ? { claims } : {}), clusters: new MemoryClusters(), clock: systemClock, log: createLogger({ write: () => {} }), settings: DEFAULT_SETTINGS, workerId: 'bench' };
    const post = async (i: number) => {
      const res = await handleApiRequest(deps, { method: 'POST', path: '/links', contentType: 'application/json', body: Buffer.from(JSON.stringify(benchSpec(i, 'stores'))) });
      if (res.status !== 201) throw new Error(`create on Secret Manager (claims in ${claimsIn}) answered ${res.status}`);
    };
    await post(CREATES); // warm-up: connections and lazy modules, outside the figures
    const smBefore = { ...sm.calls };
    const objBefore = { ...bucket?.calls };
    const run = await concurrent(CREATES, 1, post);
    const delta = (m: string) => ((sm.calls[m] ?? 0) - (smBefore[m] ?? 0)) / CREATES;
    const sum = (methods: string[]) => methods.reduce((n, m) => n + delta(m), 0);
    const objects = (op: 'objects.insert' | 'objects.delete' | 'objects.get' | 'objects.list') => ((bucket?.calls[op] ?? 0) - (objBefore[op] ?? 0)) / CREATES;
    return {
      claims: claimsIn,
      latency: summarize(run.samples),
      writesByRpc: Object.fromEntries(WRITES.map((m) => [m, delta(m)]).filter(([, n]) => n !== 0)),
      writes: sum(WRITES),
      metadataReads: sum(METADATA_READS),
      payloadReads: delta('AccessSecretVersion'),
      objectWrites: objects('objects.insert') + objects('objects.delete'),
      objectReads: objects('objects.get') + objects('objects.list'),
    };
  } finally {
    await store.close();
    await sm.close();
    await bucket?.close();
  }
}

/** A create's calls on Secret Manager with the claims as secrets, then in a bucket. */
export async function measureStoreCreates(log: (line: string) => void): Promise<StoreCreateCase[]> {
  const cases: StoreCreateCase[] = [];
  for (const claims of ['store secrets', 'a Cloud Storage bucket'] as const) {
    cases.push(await measureCase(claims));
    log(`create on Secret Manager, claims in ${claims}: ${cases.at(-1)!.writes} writes a create`);
  }
  return cases;
}
