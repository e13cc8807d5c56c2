// Section 2, creating links end to end on the embedded defaults (local file store, local cluster
// directories): POST /links through functions-framework's HTTP server in a child process, and the
// same requests in process (handleApiRequest) to separate HTTP overhead; distinct links, then the
// same unchanged specs again (which must write nothing); then one create beside many existing links.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { handleApiRequest } from '../../functions/http-api.js';
import { DEFAULT_SETTINGS, type AppDeps } from '../../shared/app/deps.js';
import { systemClock } from '../../shared/clock.js';
import { composeApp } from '../../shared/compose.js';
import { parseConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/log.js';
import { CountingStore } from '../support/counting-store.js';
import { InMemoryStore } from '../support/memory-store.js';
import { MemoryClusters } from '../support/memory-clusters.js';
import type { ServerCounters } from './api-server.js';
import { CountingClusters } from './counting-clusters.js';
import type { Section } from './report.js';
import { benchSpec, realLinkState, seedSyntheticLinks } from './seed.js';
import { concurrent, count, ms, rate, ratio, summarize, type Summary } from './stats.js';
import { measureStoreCreates, type StoreCreateCase } from './create-stores.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const IN_FLIGHT = 8;
const DISTINCT = { sequential: 64, concurrent: 64 };
/**
 * Creates outside the figures first: lazy modules, first directories, and V8's tiering (a create's
 * code runs in the optimizing tiers only after some dozens of calls): the figures are a running
 * service's; a fresh instance's first request is section 4's.
 */
const WARM_UP = 16;
const UNCHANGED = { sequential: 150, concurrent: 400 };
/** Existing links beside which more are created (in memory: the listing, not the disk, is measured). */
const EXISTING = [
  { links: 0, creates: 10 },
  { links: 1_000, creates: 10 },
  { links: 10_000, creates: 3 },
];

type Post = (body: string) => Promise<number>;

interface Counters {
  store: { listPages: number; payloadReads: number; metadataReads: number; writes: number };
  clusterCalls: number;
  clusterWrites: number;
}

interface Phase {
  label: string;
  inFlight: number;
  latency: Summary;
  perSecond: number;
  counters: Counters;
  /** Requests that did not get the expected status. */
  unexpected: number;
}

interface Driver {
  post: Post;
  counters(): Promise<Counters>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** The HTTP function in its own process, as `npm start` serves it, on a fresh state directory. */
async function httpDriver(stateDir: string): Promise<Driver> {
  const child: ChildProcess = fork(path.join(HERE, 'api-server.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, MESHLINK_STATE_DIR: stateDir, MESHLINK_SWEEP_INTERVAL: 'off', PORT: '0' },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const reply = <T>(key: string, send?: string) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (m: any) => {
        if (m && key in m) {
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve(m[key] as T);
        }
      };
      const onExit = (code: number | null) => reject(new Error(`bench API server exited with ${code}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
      if (send) child.send(send);
    });
  const port = await reply<number>('port');
  const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const post: Post = (body) =>
    new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, path: '/links', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  return {
    post,
    counters: async () => {
      const c = await reply<ServerCounters>('counters', 'counters');
      return { store: c.store, clusterCalls: c.clusters.totalCalls, clusterWrites: c.clusters.writes };
    },
    reset: async () => {
      await reply('reset', 'reset');
    },
    close: async () => {
      agent.destroy();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send('stop');
      await exited;
    },
  };
}

function countersOf(store: CountingStore, clusters: CountingClusters): Counters {
  const c = clusters.counts();
  return { store: { listPages: store.listPages, payloadReads: store.payloadReads, metadataReads: store.metadataReads, writes: store.writes }, clusterCalls: c.totalCalls, clusterWrites: c.writes };
}

/** The same use-case through handleApiRequest, on the same embedded defaults, logs formatted and dropped. */
async function inProcessDriver(stateDir: string): Promise<Driver> {
  const config = parseConfig({ MESHLINK_STATE_DIR: stateDir, MESHLINK_SWEEP_INTERVAL: 'off' });
  const base = await composeApp(config, { workerId: 'bench', log: createLogger({ write: () => {} }) });
  const store = new CountingStore(base.store);
  const clusters = new CountingClusters(base.clusters);
  const deps: AppDeps = { ...base, store, clusters };
  return {
    post: async (body) => (await handleApiRequest(deps, { method: 'POST', path: '/links', contentType: 'application/json', body: Buffer.from(body) })).status,
    counters: async () => countersOf(store, clusters),
    reset: async () => {
      store.reset();
      clusters.reset();
    },
    close: async () => {},
  };
}

async function phase(driver: Driver, label: string, total: number, inFlight: number, bodyOf: (i: number) => string, expected: number): Promise<Phase> {
  await driver.reset();
  let unexpected = 0;
  const run = await concurrent(total, inFlight, async (i) => {
    if ((await driver.post(bodyOf(i))) !== expected) unexpected++;
  });
  return { label, inFlight, latency: summarize(run.samples), perSecond: run.perSecond, counters: await driver.counters(), unexpected };
}

/** Distinct links (sequential, then concurrent), then every one of them again, unchanged. */
async function drive(driver: Driver, log: (line: string) => void, via: string): Promise<Phase[]> {
  const body = (i: number) => JSON.stringify(benchSpec(i));
  const phases: Phase[] = [];
  const created = DISTINCT.sequential + DISTINCT.concurrent;
  for (let i = 0; i < WARM_UP; i++) await driver.post(JSON.stringify(benchSpec(39_999 - i)));
  phases.push(await phase(driver, 'create, distinct links', DISTINCT.sequential, 1, body, 201));
  phases.push(await phase(driver, 'create, distinct links', DISTINCT.concurrent, IN_FLIGHT, (i) => body(DISTINCT.sequential + i), 201));
  phases.push(await phase(driver, 'repeat, unchanged spec', UNCHANGED.sequential, 1, (i) => body(i % created), 200));
  phases.push(await phase(driver, 'repeat, unchanged spec', UNCHANGED.concurrent, IN_FLIGHT, (i) => body(i % created), 200));
  for (const p of phases) log(`create ${via} ${p.label} x${p.inFlight}: ${rate(p.perSecond)}/s, median ${ms(p.latency.median)}`);
  return phases;
}

interface ScalePoint {
  existing: number;
  latency: Summary;
  listPagesPerCreate: number;
  metadataReadsPerCreate: number;
}

/** One more link beside N existing ones: does a create cost more as links accumulate? */
async function createBesideExisting(log: (line: string) => void): Promise<ScalePoint[]> {
  const template = await realLinkState();
  const points: ScalePoint[] = [];
  for (const { links: existing, creates } of EXISTING) {
    const store = new CountingStore(new InMemoryStore());
    await seedSyntheticLinks(store, { count: existing, template, issuedAt: new Date() });
    const clusters = new CountingClusters(new MemoryClusters());
    const deps: AppDeps = { store, clusters, clock: systemClock, log: createLogger({ write: () => {} }), settings: DEFAULT_SETTINGS, workerId: 'bench' };
    store.reset();
    const run = await concurrent(creates, 1, async (i) => {
      const res = await handleApiRequest(deps, { method: 'POST', path: '/links', contentType: 'application/json', body: Buffer.from(JSON.stringify(benchSpec(i, 'extra'))) });
      if (res.status !== 201) throw new Error(`create beside ${existing} links answered ${res.status}`);
    });
    points.push({ existing, latency: summarize(run.samples), listPagesPerCreate: store.listPages / creates, metadataReadsPerCreate: store.metadataReads / creates });
    log(`create beside ${existing} links: median ${ms(points.at(-1)!.latency.median)}, ${store.listPages / creates} list pages each`);
  }
  return points;
}

export interface CreateFigures {
  http: Phase[];
  inProcess: Phase[];
  scale: ScalePoint[];
  /** Calls per create on the Secret Manager fake, claims as secrets and in a bucket. */
  stores: StoreCreateCase[];
}

export async function measureCreate(log: (line: string) => void): Promise<CreateFigures> {
  const root = await mkdtemp(path.join(tmpdir(), 'meshlink-bench-create-'));
  try {
    const httpServer = await httpDriver(path.join(root, 'http'));
    let httpPhases: Phase[];
    try {
      httpPhases = await drive(httpServer, log, 'HTTP');
    } finally {
      await httpServer.close();
    }
    const inProcess = await drive(await inProcessDriver(path.join(root, 'in-process')), log, 'in-process');
    return { http: httpPhases, inProcess, scale: await createBesideExisting(log), stores: await measureStoreCreates(log) };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** The unchanged repeats must write nothing, to the store or to a cluster. */
export function createChecks(f: CreateFigures): string[] {
  const failures: string[] = [];
  for (const [via, phases] of [['HTTP', f.http], ['in process', f.inProcess]] as const) {
    for (const p of phases) {
      if (p.unexpected > 0) failures.push(`${via} ${p.label} x${p.inFlight}: ${p.unexpected} requests got an unexpected status`);
      if (p.label.startsWith('repeat') && (p.counters.store.writes !== 0 || p.counters.clusterWrites !== 0)) {
        failures.push(`${via} ${p.label} x${p.inFlight}: ${p.counters.store.writes} store writes and ${p.counters.clusterWrites} cluster writes (expected 0)`);
      }
    }
  }
  for (const c of f.stores) {
    if (c.claims === 'a Cloud Storage bucket' && c.writes > SECRET_MANAGER_WRITE_BUDGET) failures.push(`a create on Secret Manager with the claims in a bucket made ${c.writes} writes (budget ${SECRET_MANAGER_WRITE_BUDGET})`);
  }
  return failures;
}

/** Issue 18: Secret Manager writes a link creation may cost. */
const SECRET_MANAGER_WRITE_BUDGET = 8;

function per(n: number, requests: number): string {
  const v = n / requests;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

function storeBudgetFinding(stores: StoreCreateCase[]): string {
  const secrets = stores.find((c) => c.claims === 'store secrets')!;
  const bucket = stores.find((c) => c.claims === 'a Cloud Storage bucket')!;
  return (
    `**Aim: a link creation at most ${SECRET_MANAGER_WRITE_BUDGET} Secret Manager writes** (issue 18): ${per(bucket.writes, 1)} with the claims in a Cloud Storage bucket ` +
    `(\`MESHLINK_CLAIMS_BUCKET\`, as \`infra/\` deploys it), plus ${per(bucket.objectWrites, 1)} object writes there: **${bucket.writes <= SECRET_MANAGER_WRITE_BUDGET ? 'met' : 'not met'}**; ` +
    `${per(secrets.writes, 1)} with the claims kept as secrets (a deployment without the bucket). ` +
    (bucket.metadataReads === secrets.metadataReads
      ? `Secret Manager metadata reads stay at ${per(bucket.metadataReads, 1)} a create: `
      : `Secret Manager metadata reads: ${per(bucket.metadataReads, 1)} with the bucket, ${per(secrets.metadataReads, 1)} without: `) +
    'a claim absent from the bucket is still looked up as a secret, for claims made before the bucket (`withLegacyClaims`). Counted per RPC on the fakes, as `test/integration/store-quota.test.ts` enforces.'
  );
}

export function createSection(f: CreateFigures): Section {
  const requests = (p: Phase) => p.latency.n;
  const rows = (via: string, phases: Phase[]) =>
    phases.map((p) => [
      `${via}: ${p.label}`,
      String(p.inFlight),
      count(p.latency.n),
      rate(p.perSecond),
      ms(p.latency.median),
      ms(p.latency.p95),
      ms(p.latency.p99),
      per(p.counters.store.writes, requests(p)),
      per(p.counters.store.payloadReads, requests(p)),
      per(p.counters.store.listPages, requests(p)),
      per(p.counters.clusterCalls, requests(p)),
      per(p.counters.clusterWrites, requests(p)),
    ]);
  const find = (phases: Phase[], label: string, inFlight: number) => phases.find((p) => p.label === label && p.inFlight === inFlight)!;
  const httpCreate = find(f.http, 'create, distinct links', 1);
  const localCreate = find(f.inProcess, 'create, distinct links', 1);
  const httpRepeat = find(f.http, 'repeat, unchanged spec', 1);
  const localRepeat = find(f.inProcess, 'repeat, unchanged spec', 1);
  const repeatWrites = [...f.http, ...f.inProcess].filter((p) => p.label.startsWith('repeat')).reduce((n, p) => n + p.counters.store.writes + p.counters.clusterWrites, 0);
  const repeats = [...f.http, ...f.inProcess].filter((p) => p.label.startsWith('repeat')).reduce((n, p) => n + requests(p), 0);
  const last = f.scale.at(-1)!;
  const first = f.scale[0]!;
  return {
    title: '2. Creating a link (POST /links) on the embedded defaults',
    method: [
      '**HTTP**: the `meshlinkApi` function served by functions-framework (`getTestServer`, as `npm start` does) in a child process on a fresh state directory ' +
        '(local file store, local cluster directories, INFO logs written to a discarded stdout); requests from the bench process over keep-alive connections, ' +
        `one at a time, then ${IN_FLIGHT} in flight, after ${WARM_UP} creates outside the figures (lazy modules, first directories, V8's tiering: a running service's figures; a fresh instance's first request is section 4's). **In process**: the same JSON bodies through \`handleApiRequest\` on the same kind of deps, so the difference is HTTP and the framework. ` +
        'Distinct links differ in name, host and `server.gatewayPort` (client cluster `bench-client`, server cluster `bench-server`). The repeats post those same specs again, unchanged. ' +
        'Store and cluster calls are counted by decorators around the real adapters (`CountingStore`, and a counting `ClusterResolver`); per request below.',
    ],
    tables: [
      {
        headers: ['case', 'in flight', 'requests', 'req/s', 'median', 'p95', 'p99', 'store writes', 'payload reads', 'list pages', 'cluster calls', 'cluster writes'],
        rows: [...rows('HTTP', f.http), ...rows('in process', f.inProcess)],
      },
      {
        title: 'One more link beside existing ones (in process, in-memory store and clusters)',
        headers: ['existing links', 'creates', 'median', 'p95', 'list pages per create', 'metadata reads per create'],
        rows: f.scale.map((s) => [count(s.existing), String(s.latency.n), ms(s.latency.median), ms(s.latency.p95), per(s.listPagesPerCreate, 1), per(s.metadataReadsPerCreate, 1)]),
      },
      {
        title: 'On the production stores: Secret Manager (the real client, its fake over loopback), clusters in memory; calls per create',
        headers: ['claims kept as', 'creates', 'median', 'Secret Manager writes', 'by RPC', 'metadata reads', 'payload reads', 'object writes', 'object reads'],
        rows: f.stores.map((c) => [
          c.claims,
          String(c.latency.n),
          ms(c.latency.median),
          per(c.writes, 1),
          Object.entries(c.writesByRpc).map(([rpc, n]) => `${rpc} ${per(n, 1)}`).join(', '),
          per(c.metadataReads, 1),
          per(c.payloadReads, 1),
          per(c.objectWrites, 1),
          per(c.objectReads, 1),
        ]),
      },
    ],
    findings: [
      `**Unchanged specs write nothing**: ${count(repeats)} repeated requests made ${repeatWrites} store writes and ${repeatWrites === 0 ? 'no' : 'some'} cluster writes ` +
        `(checked; ${repeatWrites === 0 ? 'met' : '**not met**'}). A repeat still costs ${per(httpRepeat.counters.store.payloadReads, requests(httpRepeat))} payload reads ` +
        `(each side's credential, to render its Secret and compare revisions) and ${per(httpRepeat.counters.clusterCalls, requests(httpRepeat))} cluster calls (port check, ingress address, apply).`,
      `**Where a create's time goes**: ${ms(localCreate.latency.median)} in process against ${ms(httpCreate.latency.median)} over HTTP (one at a time), so HTTP and the framework add ` +
        `${httpCreate.latency.median > 1.1 * localCreate.latency.median ? ms(httpCreate.latency.median - localCreate.latency.median) : 'nothing measurable (under the run\'s 10% noise)'}; for a repeat, ${ms(localRepeat.latency.median)} against ${ms(httpRepeat.latency.median)} ` +
        `(${ratio(httpRepeat.latency.median / localRepeat.latency.median)}): express, the framework and a loopback round trip. functions-framework runs each request in a \`domain\`, ` +
        `whose async hooks cost on every promise made under it (about 25 ms a create here): meshlink's functions do their work outside it (\`functions/outside-domain.ts\`), and its HTTP functions run in none (\`functions/framework-errors.ts\`), as the first domain a process makes tracks every promise after it, in a domain or not (2 to 4 ms a create). Minting a P-256 set takes section 1's median, and the same create on an in-memory store ` +
        `and clusters ${ms(first.latency.median)} (the last table); the rest is the disk: the file store's ${per(httpCreate.counters.store.writes, requests(httpCreate))} durable writes ` +
        `and both clusters' YAML files, made in 6 waves of writes one after another (the host and port claims at once, the creation lease on the CA secret, ` +
        'the CA\'s version with the leaves\' secrets, both leaves\' versions, both sides\' syncs, the record: `docs/architecture.md`): a wave\'s store writes share one fdatasync of the ' +
        'store\'s journal (group commit), a sync\'s cluster files wait for 2 fsyncs in turn (a file\'s content, then the directory entry of its rename), each from a fraction of a millisecond on an idle disk to several on a shared one.',
      `**Aim: a create p50 at most 20 ms on the embedded defaults** (issue 18): ${ms(localCreate.latency.median)} in process and ${ms(httpCreate.latency.median)} over HTTP, ` +
        `one at a time: **${httpCreate.latency.median <= 20 ? 'met' : 'not met'}**` +
        (httpCreate.latency.median <= 20
          ? '.'
          : ': every write is durable (fsynced) before the request is answered; the waits on the disk (one fdatasync per wave of store writes, 2 fsyncs in turn per sync of cluster files) ' +
            'and the file system calls of 10 cluster files take most of it here.'),
      storeBudgetFinding(f.stores),
      last.listPagesPerCreate === 0
        ? `**A create makes the same calls however many links exist**: beside ${count(last.existing)} links it lists nothing and makes ${per(last.metadataReadsPerCreate, 1)} metadata reads ` +
          `(against ${per(first.metadataReadsPerCreate, 1)} with none): the gateway-port check reads one claim (\`app/port-claim.ts\`). On Secret Manager, metadata reads count against a quota of 600 a minute. ` +
          `Its time, ${ms(last.latency.median)} (median) against ${ms(first.latency.median)} with none, grows with the in-memory store's and the heap's size, not with calls.`
        : `**Creates slow down as links accumulate**: beside ${count(last.existing)} links one create lists ${per(last.listPagesPerCreate, 1)} pages ` +
          `(${ms(last.latency.median)} median, against ${ms(first.latency.median)} with none).`,
    ],
  };
}
