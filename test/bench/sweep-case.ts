// Child process of the sweep benchmark: one store kind and size per process, so peak memory is
// this case's. Seeds the links, runs the sweeps the parent asks for, and reports over IPC.
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SETTINGS, type AppDeps } from '../../shared/app/deps.js';
import { InProcessRotationQueue } from '../../shared/queue/in-process-rotation-queue.js';
import { type RotationQueue } from '../../shared/queue/port.js';
import { sweep } from '../../shared/app/sweep.js';
import { manualClock } from '../support/clock.js';
import { createLogger } from '../../shared/log.js';
import { CountingStore } from '../support/counting-store.js';
import { InMemoryStore } from '../support/memory-store.js';
import { LocalFileStore } from '../../shared/store/local-file-store.js';
import type { SecretStore } from '../../shared/store/port.js';
import { MemoryClusters } from '../support/memory-clusters.js';
import { CountingClusters } from './counting-clusters.js';
import { createRealLinks, DAY, realLinkState, seedSyntheticLinks } from './seed.js';
import type { SeedRequest } from './sm-server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export type StoreKind = 'memory' | 'file' | 'secret-manager';
export type QueueKind = 'record' | 'in-process';

export interface SweepCaseRequest {
  store: StoreKind;
  links: number;
  /** Share of the links due at the `due` sweeps (0.01 = 1%). */
  dueShare: number;
  sweeps: { label: string; at: 'none-due' | 'due'; queue: QueueKind }[];
}

export interface SweepMeasure {
  label: string;
  queue: QueueKind;
  wallMs: number;
  listed: number;
  pages: number;
  due: number;
  /** Due links left for the next sweep by the write budget (pacing). */
  deferred: number;
  rotated: number;
  failed: number;
  store: { listPages: number; payloadReads: number; metadataReads: number; writes: number };
  clusterCalls: number;
  clusterWrites: number;
  /** Peak heapUsed and rss seen at page boundaries, and the baseline before the sweep (after a GC). */
  heapPeak: number;
  heapBase: number;
  rssPeak: number;
}

export interface SweepCaseResult {
  store: StoreKind;
  links: number;
  /** Links due at the `due` sweeps; real (minted and stored) ones when a sweep rotates them. */
  dueLinks: number;
  realLinks: number;
  seedMs: number;
  sweeps: SweepMeasure[];
  /** Largest resident set of this process over its life (seeding included), bytes. */
  maxRss: number;
}

/** The Secret Manager fake in a process of its own; `seed` writes synthetic links into it directly. */
interface FakeProcess {
  port: number;
  project: string;
  seed(request: SeedRequest['seed']): Promise<void>;
  stop(): Promise<void>;
}

async function startFake(): Promise<FakeProcess> {
  const child = fork(path.join(HERE, 'sm-server.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const { port, project } = await new Promise<{ port: number; project: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { port: number; project: string }));
    child.once('exit', (code) => reject(new Error(`Secret Manager fake exited with ${code}`)));
  });
  return {
    port,
    project,
    seed: async (request) => {
      const done = new Promise((resolve) => child.once('message', resolve));
      child.send({ seed: request } satisfies SeedRequest);
      await done;
    },
    stop: async () => {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.send('stop');
      await gone;
    },
  };
}

/** Samples memory at every listing page (the sweep's unit of work) and every hand-over to the queue. */
class Sampler {
  heapPeak = 0;
  rssPeak = 0;
  sample(): void {
    const m = process.memoryUsage();
    if (m.heapUsed > this.heapPeak) this.heapPeak = m.heapUsed;
    if (m.rss > this.rssPeak) this.rssPeak = m.rss;
  }
}

class SampledStore extends CountingStore {
  sampler = new Sampler();
  override async listSecrets(query: Parameters<SecretStore['listSecrets']>[0]) {
    const page = await super.listSecrets(query);
    this.sampler.sample();
    return page;
  }
}

async function runCase(req: SweepCaseRequest): Promise<SweepCaseResult> {
  const maxRss = () => process.resourceUsage().maxRSS * 1024;

  // Times: real links are issued 19 days before `base`, so their leaves (30 days, renewed at two
  // thirds) come due a day after it; synthetic links are issued a day before `base` and are due in
  // 19 days. The none-due sweep runs at `base`, the due sweep two days later.
  const base = Date.now();
  const at = { 'none-due': new Date(base), due: new Date(base + 2 * DAY) };
  const clock = manualClock(new Date(base - 19 * DAY));
  const work = await mkdtemp(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'meshlink-bench-sweep-'));
  const fake = req.store === 'secret-manager' ? await startFake() : undefined;
  try {
    let inner: SecretStore;
    if (req.store === 'memory') inner = new InMemoryStore({ clock });
    else if (req.store === 'file') inner = new LocalFileStore(path.join(work, 'store'), { clock });
    else {
      const { SecretManagerStore } = await import('../../shared/store/secret-manager-store.js');
      inner = new SecretManagerStore({ project: fake!.project, apiEndpoint: '127.0.0.1', port: fake!.port, plaintext: true });
    }
    const store = new SampledStore(inner);
    const clusters = new CountingClusters(new MemoryClusters());
    const deps: AppDeps = { store, clusters, clock, log: createLogger({ write: () => {} }), settings: DEFAULT_SETTINGS, workerId: 'bench-sweep' };

    const dueLinks = Math.round(req.links * req.dueShare);
    // Due links that a worker will rotate must be real (minted and stored); a sweep that only hands
    // them to the queue decides from the state alone, so synthetic ones issued as long ago do.
    const realLinks = req.sweeps.some((s) => s.queue === 'in-process') ? dueLinks : 0;
    const t0 = performance.now();
    // Real links first (minted, stored, synced through applyLink).
    await createRealLinks(deps, realLinks, 'due');
    const template = await realLinkState();
    const batches = [
      { count: dueLinks - realLinks, issuedAtMs: base - 19 * DAY, first: 0 },
      { count: req.links - dueLinks, issuedAtMs: base - DAY, first: dueLinks - realLinks },
    ];
    for (const b of batches) {
      // The fake is seeded in its own process (not through gRPC): seeding is not what is measured.
      if (fake) await fake.seed({ ...b, template });
      else await seedSyntheticLinks(store, { count: b.count, template, issuedAt: new Date(b.issuedAtMs), first: b.first, concurrency: 16 });
    }
    const seedMs = performance.now() - t0;

    const sweeps: SweepMeasure[] = [];
    for (const s of req.sweeps) {
      clock.set(at[s.at]);
      let rotated = 0;
      let failed = 0;
      let enqueued = 0;
      const inProcess = s.queue === 'in-process' ? new InProcessRotationQueue(deps) : undefined;
      // `record` stands for the Pub/Sub fan-out: the sweep function publishes, workers rotate elsewhere.
      const queue: RotationQueue = {
        enqueue: async (links) => {
          enqueued += links.length;
          for (const o of inProcess ? await inProcess.enqueue(links) : []) {
            if (o.outcome === 'rotated') rotated++;
            else if (o.outcome === 'failed') failed++;
          }
          store.sampler.sample();
        },
      };
      globalThis.gc?.();
      store.reset();
      clusters.reset();
      const baseline = process.memoryUsage();
      store.sampler = new Sampler();
      store.sampler.sample();
      const t1 = performance.now();
      const report = await sweep(deps, queue);
      const wallMs = performance.now() - t1;
      store.sampler.sample();
      const c = clusters.counts();
      sweeps.push({
        label: s.label,
        queue: s.queue,
        wallMs,
        listed: report.listed,
        pages: report.pages,
        due: enqueued,
        deferred: report.deferred,
        rotated,
        failed,
        store: { listPages: store.listPages, payloadReads: store.payloadReads, metadataReads: store.metadataReads, writes: store.writes },
        clusterCalls: c.totalCalls,
        clusterWrites: c.writes,
        heapPeak: store.sampler.heapPeak,
        heapBase: baseline.heapUsed,
        rssPeak: store.sampler.rssPeak,
      });
    }
    return { store: req.store, links: req.links, dueLinks, realLinks, seedMs, sweeps, maxRss: maxRss() };
  } finally {
    await fake?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

process.once('message', (req) => {
  runCase(req as SweepCaseRequest).then(
    (result) => process.send!({ result }, () => process.exit(0)),
    (err) => process.send!({ error: String((err as Error).stack ?? err) }, () => process.exit(1)),
  );
});
