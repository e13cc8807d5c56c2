// Section 4, cold start: each function in a fresh process started as Cloud Functions starts it
// (the functions-framework CLI on the compiled package, NODE_ENV=production), timed from spawn to
// its first answer; module import times alone; and which heavy SDKs a path actually loads.
import { execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { BUNDLE_DIR, LAZY_LIBRARIES } from '../../esbuild.config.js';
import { FUNCTION_NAMES } from '../../functions/names.js';
import { startFakeSecretManager } from '../fakes/secret-manager-server.js';
import { binaryCloudEvent, fixture, pubsubMessage } from '../support/registration.js';
import type { Section } from './report.js';
import { benchSpec } from './seed.js';
import { ms, ratio, summarize, type Summary } from './stats.js';

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const FIXTURES = path.join(HERE, 'fixtures');
/** Package files outside their exports maps (CLIs), from the project's node_modules. */
const MODULES = path.join(ROOT, 'node_modules');
const FF_MAIN = path.join(MODULES, '@google-cloud/functions-framework/build/src/main.js');
const RUNS = 5;
const PROBE_TIMEOUT_MS = 30_000;

/** The SDKs whose load a cold start should pay only on the path that needs them. */
const HEAVY = ['@google-cloud/secret-manager', '@kubernetes/client-node', '@google-cloud/container', '@google-cloud/pubsub', '@peculiar/x509', 'google-gax', '@grpc/grpc-js', 'yaml', 'cloudevents'];

interface HttpCall {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

interface Case {
  label: string;
  /** Node arguments after the executable, given the port. */
  args: (port: number) => string[];
  env?: Record<string, string>;
  /** A state directory to copy in before start (otherwise an empty one). */
  seedState?: string;
  first: HttpCall;
  second?: HttpCall;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function request(port: number, call: HttpCall): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: call.method, path: call.path, headers: { ...(call.headers ?? {}), ...(call.body !== undefined ? { 'content-length': String(Buffer.byteLength(call.body)) } : {}) }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(call.body);
  });
}

const sleep = (msec: number) => new Promise((resolve) => setTimeout(resolve, msec));

interface ColdRun {
  firstMs: number;
  /** CPU time the process had used (all its threads) when the first answer came, where Linux tells it. */
  firstCpuMs?: number;
  secondMs?: number;
  /** Package names loaded by the end (probe runs only). */
  packages?: Set<string>;
}

/** The bundle's own files of libraries (esbuild.config.ts), by URL: the package each stands for. */
const BUNDLED_LIBRARIES = new Map(Object.entries(LAZY_LIBRARIES).map(([name, file]) => [pathToFileURL(path.join(BUNDLE_DIR, file)).href, name]));

function packageOf(url: string): string | undefined {
  const bundled = BUNDLED_LIBRARIES.get(url);
  if (bundled) return bundled;
  const at = url.lastIndexOf('/node_modules/');
  if (at < 0) return undefined;
  const [scope, name] = url.slice(at + '/node_modules/'.length).split('/');
  return scope?.startsWith('@') ? `${scope}/${name}` : scope;
}

/**
 * User and system CPU time of a process so far, from /proc (clock ticks of 10 ms): the work of a
 * start, which another process's load on the machine does not lengthen as it does the wall time.
 */
function cpuMsOf(pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime
  } catch {
    return undefined; // not Linux
  }
}

/** Spawns the case's process, polls until it answers the first call, then sends the second. */
async function coldRun(c: Case, probe = false): Promise<ColdRun> {
  const port = await freePort();
  const work = await mkdtemp(path.join(tmpdir(), 'meshlink-bench-cold-'));
  const stateDir = path.join(work, 'state');
  if (c.seedState) await cp(c.seedState, stateDir, { recursive: true });
  const modulesOut = path.join(work, 'modules.json');
  const nodeArgs = probe ? ['--import', path.join(FIXTURES, 'module-probe.mjs')] : [];
  let stderr = '';
  let exited: number | null | undefined;
  const t0 = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, ...c.args(port)], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'production', PORT: String(port), MESHLINK_STATE_DIR: stateDir, MESHLINK_SWEEP_INTERVAL: 'off', MESHLINK_BENCH_MODULES_OUT: modulesOut, ...c.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (d) => (stderr += d));
  child.on('exit', (code) => (exited = code));
  try {
    let first: { status: number; body: string } | undefined;
    while (!first) {
      if (exited !== undefined) throw new Error(`${c.label}: exited with ${exited} before answering: ${stderr.slice(0, 500)}`);
      if (performance.now() - t0 > PROBE_TIMEOUT_MS) throw new Error(`${c.label}: no answer in ${PROBE_TIMEOUT_MS} ms`);
      try {
        first = await request(port, c.first);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ECONNREFUSED') throw err;
        await sleep(2);
      }
    }
    const firstMs = performance.now() - t0;
    const firstCpuMs = cpuMsOf(child.pid);
    if (first.status >= 300) throw new Error(`${c.label}: first call answered ${first.status} ${first.body.slice(0, 200)}`);
    let secondMs: number | undefined;
    if (c.second) {
      const t1 = performance.now();
      const second = await request(port, c.second);
      secondMs = performance.now() - t1;
      if (second.status >= 300) throw new Error(`${c.label}: second call answered ${second.status} ${second.body.slice(0, 200)}`);
    }
    let packages: Set<string> | undefined;
    if (probe) {
      child.kill('SIGUSR2');
      for (let i = 0; i < 500 && !existsSync(modulesOut); i++) await sleep(10);
      await sleep(50); // the file is written in one call; let it finish
      const urls = JSON.parse(await readFile(modulesOut, 'utf8')) as string[];
      packages = new Set(urls.map(packageOf).filter((p): p is string => p !== undefined));
    }
    return { firstMs, ...(firstCpuMs !== undefined ? { firstCpuMs } : {}), ...(secondMs !== undefined ? { secondMs } : {}), ...(packages ? { packages } : {}) };
  } finally {
    if (exited === undefined) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
    await rm(work, { recursive: true, force: true });
  }
}

const HELLO_MJS = 'functions-framework hello world as `hello.mjs`';

function ffArgs(target: string, source = '.'): (port: number) => string[] {
  return (port) => [FF_MAIN, `--target=${target}`, `--source=${source}`, `--port=${port}`];
}

const json = { 'content-type': 'application/json' };
const postLink: HttpCall = { method: 'POST', path: '/links', headers: json, body: JSON.stringify(benchSpec(1)) };
const healthz: HttpCall = { method: 'GET', path: '/healthz' };

/** One messagePublished CloudEvent in binary mode, as Eventarc delivers it. */
function pubsubEvent(data: unknown): HttpCall {
  const event = binaryCloudEvent(pubsubMessage(data));
  return { method: 'POST', path: '/', headers: event.headers, body: event.body };
}

interface ImportFigure {
  label: string;
  importMs: Summary;
  sinceStartMs: Summary;
}

async function importTime(label: string, target: string): Promise<ImportFigure> {
  const imports: number[] = [];
  const since: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const { stdout } = await run(process.execPath, [path.join(FIXTURES, 'import-time.mjs'), target], { cwd: ROOT });
    const r = JSON.parse(stdout) as { importMs: number; sinceStartMs: number };
    imports.push(r.importMs);
    since.push(r.sinceStartMs);
  }
  return { label, importMs: summarize(imports), sinceStartMs: summarize(since) };
}

interface StartFigure {
  label: string;
  first: Summary;
  firstCpu?: Summary;
  firstCall: string;
  second?: Summary;
  secondCall?: string;
}

interface ProbeFigure {
  label: string;
  loaded: Record<string, boolean>;
}

export interface ColdStartFigures {
  buildMs: number;
  nodeBaselineMs: Summary;
  starts: StartFigure[];
  imports: ImportFigure[];
  probes: ProbeFigure[];
  pending: string[];
}

function describeCall(call: HttpCall): string {
  return call.path === '/' && call.method === 'POST' ? 'one CloudEvent' : `${call.method} ${call.path}`;
}

/** A state directory holding one link, for the event functions to find. */
async function oneLinkState(root: string): Promise<string> {
  const dir = path.join(root, 'one-link');
  const { composeApp } = await import('../../shared/compose.js');
  const { parseConfig } = await import('../../shared/config.js');
  const { createLogger } = await import('../../shared/log.js');
  const { applyLink } = await import('../../shared/app/provision.js');
  const config = parseConfig({ MESHLINK_STATE_DIR: dir });
  const deps = await composeApp(config, { workerId: 'bench', log: createLogger({ write: () => {} }) });
  await applyLink(deps, benchSpec(1));
  // Closed, so that this process does not hold the directory (the functions started on it would be refused).
  const { LocalFileStore } = await import('../../shared/store/local-file-store.js');
  if (config.store.kind === 'local') await new LocalFileStore(config.store.dir).close();
  return dir;
}

export async function measureColdStart(log: (line: string) => void): Promise<ColdStartFigures> {
  const tBuild = performance.now();
  // The package as deployed: `npm run build` (tsc, then the bundle package.json main names).
  await run('npm', ['run', 'build'], { cwd: ROOT });
  const buildMs = performance.now() - tBuild;
  const fake = await startFakeSecretManager();
  const root = await mkdtemp(path.join(tmpdir(), 'meshlink-bench-coldstate-'));
  try {
    const seeded = await oneLinkState(root);
    const secretManager = { MESHLINK_STORE: 'secret-manager', MESHLINK_PROJECT: fake.project, MESHLINK_SECRET_MANAGER_ENDPOINT: `plaintext://127.0.0.1:${fake.port}` };
    const registered = existsSync(path.join(ROOT, 'dist/functions/rotation.js'));
    const cases: Case[] = [
      { label: 'functions-framework hello world', args: ffArgs('hello', path.join(FIXTURES, 'hello.js')), first: { method: 'GET', path: '/' } },
      { label: `${FUNCTION_NAMES.api}, local store`, args: ffArgs(FUNCTION_NAMES.api), first: healthz, second: postLink },
      // Cloud Functions starts an instance for a request, usually a real one: a create is the first.
      { label: `${FUNCTION_NAMES.api}, local store, a create first`, args: ffArgs(FUNCTION_NAMES.api), first: postLink },
      { label: `${FUNCTION_NAMES.api}, Secret Manager store (loopback fake)`, args: ffArgs(FUNCTION_NAMES.api), env: secretManager, first: healthz, second: postLink },
      // `npm start` runs `tsx functions/local.ts`; the tsx CLI would add a relay process in between.
      { label: `${FUNCTION_NAMES.api} as \`npm start\` serves it (tsx, not compiled)`, args: () => ['--import', 'tsx', 'functions/local.ts'], first: healthz, second: postLink },
      { label: `${FUNCTION_NAMES.clusterRegistration}, local store, one link`, args: ffArgs(FUNCTION_NAMES.clusterRegistration), seedState: seeded, first: pubsubEvent(fixture('gke-create-cluster-last')) },
    ];
    const pending: string[] = [];
    if (registered) {
      cases.push(
        { label: `${FUNCTION_NAMES.sweep}, local store, one link`, args: ffArgs(FUNCTION_NAMES.sweep), seedState: seeded, first: pubsubEvent({}) },
        { label: `${FUNCTION_NAMES.rotateLink}, local store, one link not due`, args: ffArgs(FUNCTION_NAMES.rotateLink), seedState: seeded, first: pubsubEvent({ link: 'bench-1', reason: 'bench' }) },
      );
    } else {
      pending.push(`${FUNCTION_NAMES.sweep} and ${FUNCTION_NAMES.rotateLink} are not registered on this branch yet (the rotation functions): no cold start measured for them.`);
    }

    // The hello world as an .mjs file, as meshlink's bundle is: the framework's loader skips its package.json lookup for both.
    cases.push({ label: HELLO_MJS, args: ffArgs('hello', path.join(FIXTURES, 'hello.mjs')), first: { method: 'GET', path: '/' } });

    const baseline: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      await run(process.execPath, ['-e', '0']);
      baseline.push(performance.now() - t0);
    }

    // Round by round (every case once a round), so that a change in the machine's load between
    // rounds weighs on every case alike, the hello world included, and not on the cases run then.
    for (const c of cases) await coldRun(c); // warms the file system cache, as a deployed image's is
    const runs: ColdRun[][] = cases.map(() => []);
    for (let i = 0; i < RUNS; i++) {
      for (const [k, c] of cases.entries()) runs[k]!.push(await coldRun(c));
    }
    const starts: StartFigure[] = cases.map((c, k) => {
      const mine = runs[k]!;
      const second = mine.every((r) => r.secondMs !== undefined) ? summarize(mine.map((r) => r.secondMs!)) : undefined;
      const cpu = mine.every((r) => r.firstCpuMs !== undefined) ? { firstCpu: summarize(mine.map((r) => r.firstCpuMs!)) } : {};
      return { label: c.label, first: summarize(mine.map((r) => r.firstMs)), ...cpu, firstCall: describeCall(c.first), ...(second && c.second ? { second, secondCall: describeCall(c.second) } : {}) };
    });
    for (const s of starts) log(`cold start ${s.label}: ${ms(s.first.median)}`);

    const imports = [
      await importTime('hello world module (functions-framework only)', path.join(FIXTURES, 'hello.js')),
      await importTime('meshlink `dist/bundle/index.mjs` (every function, bundled: what `main` names and Cloud Functions loads)', './dist/bundle/index.mjs'),
      await importTime('meshlink `dist/functions/index.js` (the same, as tsc emits it: one file per module)', './dist/functions/index.js'),
      await importTime('`@peculiar/x509` as the bundle loads it on first use (`dist/bundle/x509.cjs`, one file)', path.join(FIXTURES, 'x509-bundled.mjs')),
      await importTime('`@peculiar/x509` as the package (through `x509()` of `dist/shared/pki/x509.js`)', path.join(FIXTURES, 'x509-door.mjs')),
      await importTime('`zod`', 'zod'),
      await importTime('`yaml` as the bundle loads it on first use (`dist/bundle/yaml.cjs`, one file)', './dist/bundle/yaml.cjs'),
      await importTime('`yaml` as the package', 'yaml'),
      await importTime('`@google-cloud/secret-manager`', '@google-cloud/secret-manager'),
      await importTime('`@kubernetes/client-node`', '@kubernetes/client-node'),
      await importTime('`@google-cloud/container`', '@google-cloud/container'),
      await importTime('`@google-cloud/pubsub`', '@google-cloud/pubsub'),
    ];
    log('import times measured');

    const probeCases: [string, Case][] = [
      ['api, local store: after GET /healthz', { ...cases[1]!, second: undefined } as Case],
      ['api, local store: after GET /healthz and POST /links', cases[1]!],
      ['api, Secret Manager store: after GET /healthz', { ...cases[3]!, second: undefined } as Case],
      ['api, Secret Manager store: after GET /healthz and POST /links', cases[3]!],
      ['registration, local store: after one event', cases[5]!],
      ...(registered ? ([['sweep, local store: after one event', cases[6]!], ['rotate, local store: after one event', cases[7]!]] as [string, Case][]) : []),
    ];
    const probes: ProbeFigure[] = [];
    for (const [label, c] of probeCases) {
      const { packages } = await coldRun(c, true);
      probes.push({ label, loaded: Object.fromEntries(HEAVY.map((h) => [h, packages!.has(h)])) });
    }
    log('module probes done');
    return { buildMs, nodeBaselineMs: summarize(baseline), starts, imports, probes, pending };
  } finally {
    await fake.close();
    await rm(root, { recursive: true, force: true });
  }
}

export function coldStartSection(f: ColdStartFigures): Section {
  const hello = f.starts[0]!;
  const api = f.starts[1]!;
  const createFirst = f.starts[2]!;
  const sm = f.starts[3]!;
  const bundle = f.imports[1]!;
  const unbundled = f.imports[2]!;
  const x509 = f.imports[3]!;
  const x509Package = f.imports[4]!;
  const healthzProbe = f.probes[0]!;
  const eagerOnHealthz = Object.entries(healthzProbe.loaded).filter(([, loaded]) => loaded).map(([name]) => `\`${name}\``);
  const smHealthz = f.probes[2]!;
  const helloMjs = f.starts.find((s) => s.label === HELLO_MJS);
  const findings = [
    `**Spawn to first answer**: the hello world answers ${ms(hello.first.median)} after spawn (Node itself starts and exits in ${ms(f.nodeBaselineMs.median)}); ` +
      `meshlink's HTTP function answers GET /healthz after ${ms(api.first.median)}, ${ms(api.first.median - hello.first.median)} more: ` +
      `importing the bundle \`dist/bundle/index.mjs\` takes ${ms(bundle.importMs.median)} (tsc's output, one file per module, ${ms(unbundled.importMs.median)}), and the first request composes the app (configuration, store). ` +
      `A fresh instance whose first request is a create answers it ${ms(createFirst.first.median)} after spawn: minting loads \`@peculiar/x509\`, and the local cluster directories \`yaml\`.`,
    `**Aim: a cold start at most 1.25x the hello world** (issue 18): ${ratio(api.first.median / hello.first.median)} (GET /healthz, local store): **${api.first.median <= 1.25 * hello.first.median ? 'met' : 'not met'}**; ` +
      `a create as the first request ${ratio(createFirst.first.median / hello.first.median)}. The bundle's entry is an \`.mjs\` file, for which functions-framework's loader skips ` +
      'the package.json lookup it makes for a `.js` module (the import of read-package-up and its dependencies): the hello world as written in the samples (`hello.js`) pays it' +
      (helloMjs ? `; against a hello world as \`hello.mjs\` (${ms(helloMjs.first.median)}), GET /healthz is ${ratio(api.first.median / helloMjs.first.median)} and a create first ${ratio(createFirst.first.median / helloMjs.first.median)}.` : '.') +
      (hello.firstCpu && api.firstCpu && createFirst.firstCpu
        ? ` In CPU time to the first answer (which the machine's other load does not stretch): ${ratio(api.firstCpu.median / hello.firstCpu.median)} and ${ratio(createFirst.firstCpu.median / hello.firstCpu.median)}.`
        : ''),
    `**Heavy SDKs by path**: after GET /healthz on the local store the process has loaded ${eagerOnHealthz.length ? eagerOnHealthz.join(', ') : 'none of them'}. ` +
      'The Kubernetes client and the Google SDKs are loaded only where needed (`LazyKubernetesTarget`, the store chosen in `compose.ts`), and so is `@peculiar/x509` ' +
      `(with \`reflect-metadata\`, \`tsyringe\` and the \`@peculiar/asn1-*\` schemas): \`shared/pki/x509.ts\` loads it on the first mint or certificate read, which pays its ${ms(x509.importMs.median)} (bundled into one file; the package's files take ${ms(x509Package.importMs.median)}); ` +
      'a liveness probe, a listing or an event on links not due never does. `yaml` loads on the first YAML request body or the first call on a local cluster directory (`shared/yaml.ts`), `cloudevents` on the first event (`functions/cloud-event-request.ts`).' +
      (smHealthz.loaded['@google-cloud/secret-manager']
        ? ` With the Secret Manager store, GET /healthz also loads \`@google-cloud/secret-manager\` (with \`google-gax\` and \`@grpc/grpc-js\`): the HTTP function composes the app (\`runtimeDeps()\`) before routing, so a liveness probe pays for the store client (${ms(sm.first.median - api.first.median)} more than on the local store).`
        : ''),
    `The first POST /links of a fresh process takes ${api.second ? ms(api.second.median) : 'n/a'} on the local store (mint, store, both clusters' YAML), and ${sm.second ? ms(sm.second.median) : 'n/a'} on the Secret Manager store over loopback gRPC (the client's first connection included).`,
    `The bundle (\`npm run build\`: tsc, then esbuild, \`esbuild.config.ts\`; ${ms(f.buildMs)} here) is what Cloud Functions runs (\`package.json\` \`main\`), so every case but \`npm start\` is started the production way: ` +
      '`functions-framework --target=<function> --source=.` with `NODE_ENV=production`, from spawn until the first answer (polled every 2 ms on loopback); ' +
      '`npm start` (tsx compiles TypeScript at load time) is shown for comparison only.',
    ...f.pending,
  ];
  return {
    title: '4. Cold start',
    method: [
      `Each run is a fresh process; ${RUNS} runs per case after one unmeasured run (file cache warm, as on a deployed instance), median and p95; the runs go round by round, every case once a round, so that the machine's load weighs on all alike. ` +
        'CPU: the user and system time the process had used, all threads, when the first answer came (Linux\'s /proc, 10 ms ticks). ' +
        'Import times: a fresh process imports one module and reports the import\'s duration and the time since the process started. ' +
        'Loaded SDKs (a library the bundle holds as a file of its own counts as its package): the same processes started with `node --import test/bench/fixtures/module-probe.mjs`, which records every module URL (ES modules through a `module.register` resolve hook, CommonJS ones from `require.cache`) and reports them after the requests.',
    ],
    tables: [
      {
        title: 'Spawn to first answer',
        headers: ['function', 'first call', 'median', 'p95', 'CPU, median', 'then', 'median', 'p95'],
        rows: f.starts.map((s) => [s.label, s.firstCall, ms(s.first.median), ms(s.first.p95), s.firstCpu ? ms(s.firstCpu.median) : '', s.secondCall ?? '', s.second ? ms(s.second.median) : '', s.second ? ms(s.second.p95) : '']),
      },
      {
        title: 'Module import alone',
        headers: ['module', 'import median', 'p95', 'process start to imported, median'],
        rows: [
          ...f.imports.map((i) => [i.label, ms(i.importMs.median), ms(i.importMs.p95), ms(i.sinceStartMs.median)]),
          ['(`node -e 0`, spawn to exit)', '', '', ms(f.nodeBaselineMs.median)],
        ],
      },
      {
        title: 'Heavy SDKs in the process after serving (yes = loaded)',
        headers: ['path', ...HEAVY.map((h) => `\`${h}\``)],
        rows: f.probes.map((p) => [p.label, ...HEAVY.map((h) => (p.loaded[h] ? 'yes' : '-'))]),
      },
    ],
    findings,
  };
}
