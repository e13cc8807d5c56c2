// What importing every function loads: no library that only some request paths need, so a cold
// start pays for none of them (docs/benchmarks.md, section 4). The x509 door has its own test
// (test/pki/lazy-load.test.ts); here, the libraries the functions reach through other doors.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** Packages loaded in a fresh process after the script, ES modules and CommonJS ones alike. */
async function packagesAfter(script: string): Promise<Set<string>> {
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
    const all = [...urls, ...Object.keys(createRequire(import.meta.url).cache)];
    process.stdout.write(JSON.stringify(all.filter((u) => u.includes('/node_modules/')).map((u) => u.split('/node_modules/').pop())));`;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: process.cwd() });
  const files = JSON.parse(stdout) as string[];
  return new Set(files.map((f) => f.split('/').slice(0, f.startsWith('@') ? 2 : 1).join('/')));
}

const ON_FIRST_USE = ['yaml', '@peculiar/x509', '@kubernetes/client-node', '@google-cloud/secret-manager', '@google-cloud/container', '@google-cloud/pubsub', '@google-cloud/security-private-ca'];

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

  it('a YAML body loads yaml on first use', async () => {
    const loaded = await packagesAfter(`const { parseYamlBody } = await import('./functions/yaml-body.ts'); parseYamlBody('a: 1');`);
    expect(loaded.has('yaml')).toBe(true);
  });
});
