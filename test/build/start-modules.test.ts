// What importing every function loads: no library that only some request paths need, so a cold
// start pays for none of them (docs/benchmarks.md, section 4). The x509 door has its own test
// (test/pki/lazy-load.test.ts); here, the libraries the functions reach through other doors, and
// the deployed artefact: the bundle `npm run build` makes (esbuild.config.ts), built here afresh.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_DIR, BUNDLE_ENTRY, bundleFunctions, bundleOptions, LAZY_LIBRARIES } from '../../esbuild.config.js';

const run = promisify(execFile);

/** The URLs of the modules a fresh process loaded by the script's end, ES modules and CommonJS ones alike. */
async function modulesAfter(script: string, { tsx = true } = {}): Promise<string[]> {
  const probe = `
    import { createRequire, register } from 'node:module';
    import { MessageChannel } from 'node:worker_threads';
    const urls = new Set();
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (url) => urls.add(url));
    port1.unref();
    register('./test/bench/fixtures/module-probe-hooks.mjs', { parentURL: 'file://' + process.cwd() + '/', data: { port: port2 }, transferList: [port2] });
    ${script}
    await new Promise((r) => setTimeout(r, 100)); // the hook thread's last messages
    const all = [...urls, ...Object.keys(createRequire(import.meta.url).cache).map((f) => 'file://' + f)];
    process.stdout.write('\\n' + JSON.stringify(all));`; // the last line: the app may log before it
  const { stdout } = await run(process.execPath, [...(tsx ? ['--import', 'tsx'] : []), '--input-type=module', '-e', probe], { cwd: process.cwd() });
  return JSON.parse(stdout.split('\n').at(-1)!) as string[];
}

/** The packages among loaded modules (`@scope/name` or `name`). */
function packagesOf(urls: readonly string[]): Set<string> {
  const files = urls.filter((u) => u.includes('/node_modules/')).map((u) => u.split('/node_modules/').pop()!);
  return new Set(files.map((f) => f.split('/').slice(0, f.startsWith('@') ? 2 : 1).join('/')));
}

async function packagesAfter(script: string): Promise<Set<string>> {
  return packagesOf(await modulesAfter(script));
}

/** Libraries only some request paths need: cloudevents is the CloudEvent functions' (and the local replay route's). */
const ON_FIRST_USE = ['yaml', '@peculiar/x509', '@kubernetes/client-node', '@google-cloud/secret-manager', '@google-cloud/container', '@google-cloud/pubsub', '@google-cloud/security-private-ca', '@google-cloud/storage', 'cloudevents'];

describe('modules loaded at start', () => {
  let atStart: Set<string>;
  beforeAll(async () => {
    atStart = await packagesAfter(`await import('./functions/index.ts');`);
  });

  it('the probe sees what the functions load (zod, with the link spec)', () => {
    expect(atStart.has('zod')).toBe(true);
  });

  it.each(ON_FIRST_USE)('importing every function does not load %s', (name) => {
    expect(atStart.has(name)).toBe(false);
  });

  it('a deployment with a claims bucket loads @google-cloud/storage on its first claim, not when composed', async () => {
    const composed = await packagesAfter(
      `const { composeApp } = await import('./shared/compose.ts');
       const { parseConfig } = await import('./shared/config.ts');
       await composeApp(parseConfig({ MESHLINK_STORE: 'secret-manager', MESHLINK_PROJECT: 'p', MESHLINK_CLAIMS_BUCKET: 'p-claims' }), { workerId: 'w' });`,
    );
    expect(composed.has('@google-cloud/storage')).toBe(false);
  });

  it('a YAML body loads yaml on first use', async () => {
    const loaded = await packagesAfter(`const { parseYamlBody } = await import('./functions/yaml-body.ts'); parseYamlBody('a: 1');`);
    expect(loaded.has('yaml')).toBe(true);
  });

  it('a CloudEvent loads cloudevents on first use', async () => {
    const event = JSON.stringify({ specversion: '1.0', id: '1', source: 's', type: 't', data: {} });
    const loaded = await packagesAfter(
      `const { cloudEventFromRequest } = await import('./functions/cloud-event-request.ts');
       cloudEventFromRequest({ method: 'POST', path: '/', contentType: 'application/cloudevents+json', body: Buffer.from(${JSON.stringify(event)}) });`,
    );
    expect(loaded.has('cloudevents')).toBe(true);
  });
});

describe('the deployed bundle', () => {
  let outdir: string;
  let inputs: string[];
  let atStart: string[];
  beforeAll(async () => {
    // Inside the checkout (dist/ is ignored), so the bundle finds node_modules as the deployed one does.
    await mkdir(path.dirname(BUNDLE_DIR), { recursive: true });
    outdir = await mkdtemp(path.join(path.dirname(BUNDLE_DIR), 'test-bundle-'));
    await bundleFunctions(outdir);
    // The source files whose code is in the output (esbuild reads more than it keeps).
    const { metafile } = await build({ ...bundleOptions(outdir), write: false, metafile: true, logLevel: 'silent' });
    inputs = Object.values(metafile!.outputs).flatMap((o) => Object.entries(o.inputs).filter(([, i]) => i.bytesInOutput > 0).map(([file]) => file));
    atStart = await modulesAfter(`await import(${JSON.stringify(entry())});`, { tsx: false });
  });
  afterAll(() => rm(outdir, { recursive: true, force: true }));
  const entry = () => pathToFileURL(path.join(outdir, 'index.mjs')).href;

  it('is what package.json names as main (what Cloud Functions, and the bench, start)', async () => {
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { main: string; scripts: Record<string, string> };
    expect(path.resolve(pkg.main)).toBe(BUNDLE_ENTRY);
    expect(pkg.scripts.build).toContain('esbuild.config.ts');
  });

  it('registers every function', async () => {
    const names = await modulesAfter(
      `await import(${JSON.stringify(entry())});
       const { getTestServer } = await import('@google-cloud/functions-framework/testing');
       const { FUNCTION_NAMES } = await import('./functions/names.ts');
       for (const name of Object.values(FUNCTION_NAMES)) getTestServer(name);`,
    );
    expect(names.length).toBeGreaterThan(0); // getTestServer throws for a function not registered
  });

  it.each(ON_FIRST_USE)('loads no %s at start (a chunk imports it when first used)', (name) => {
    expect(packagesOf(atStart).has(name)).toBe(false);
  });

  it("holds meshlink's modules and zod: none is read from its own file at start", () => {
    const ownFiles = atStart.filter((u) => u.startsWith('file://') && !u.includes('/node_modules/') && !u.startsWith(pathToFileURL(outdir).href));
    expect(ownFiles).toEqual([]);
    expect(packagesOf(atStart).has('zod')).toBe(false);
  });

  it('serves a YAML create and a CloudEvent with the libraries it bundles, not their packages', async () => {
    const spec = 'name: mysql\nhost: mysql.link.example.com\nclient: {cluster: c1, port: 3306}\nserver: {cluster: s1, service: mysql.default.svc.cluster.local, port: 3306}\n';
    const event = JSON.stringify({ specversion: '1.0', id: '1', source: 's', type: 't', data: {} });
    const state = await mkdtemp(path.join(outdir, 'state-'));
    const loaded = await modulesAfter(
      `process.env.MESHLINK_STATE_DIR = ${JSON.stringify(state)};
       await import(${JSON.stringify(entry())});
       const { getTestServer } = await import('@google-cloud/functions-framework/testing');
       const { once } = await import('node:events');
       async function post(name, headers, body) {
         const server = getTestServer(name).listen(0, '127.0.0.1');
         await once(server, 'listening');
         const res = await fetch('http://127.0.0.1:' + server.address().port + '/links', { method: 'POST', headers, body });
         await res.text();
         server.close();
         return res.status;
       }
       const created = await post('meshlinkApi', { 'content-type': 'application/yaml' }, ${JSON.stringify(spec)});
       if (created !== 201) throw new Error('create answered ' + created);
       // Not a registration message: acknowledged (logged), once decoded as a CloudEvent.
       const decoded = await post('meshlinkClusterRegistration', { 'content-type': 'application/cloudevents+json' }, ${JSON.stringify(event)});
       if (decoded >= 300) throw new Error('event answered ' + decoded);`,
      { tsx: false },
    );
    const bundled = loaded.filter((u) => u.startsWith(pathToFileURL(outdir).href)).map((u) => path.basename(u));
    expect(bundled).toEqual(expect.arrayContaining(Object.values(LAZY_LIBRARIES)));
    for (const name of [...Object.keys(LAZY_LIBRARIES), 'tsyringe', 'asn1js', '@peculiar/asn1-schema']) expect(packagesOf(loaded).has(name), name).toBe(false);
  });

  it("takes only zod's English messages, not its 40 locales (zod imported as a namespace, which esbuild can shake)", () => {
    const locales = inputs.filter((f) => f.includes('zod/') && f.includes('/locales/') && !f.endsWith('/index.js'));
    expect(locales.map((f) => path.basename(f))).toEqual(['en.js']);
  });
});
