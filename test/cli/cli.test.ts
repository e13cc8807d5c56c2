// `meshlink` run as a child process (bin/meshlink.js, what `npx meshlink` runs) against the local
// server on embedded defaults: every command, each exit code, bad files.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { specInput } from '../support/builders.js';
import { opensslIntermediate, opensslRoot, pemBundle } from '../support/openssl-ca.js';
import { freePort, runCli, startLocalServer, type CliRun, type LocalServer } from './support.js';

// Each case starts node processes; on a busy machine that is slow, never wrong.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

let server: LocalServer;
let dir: string;

beforeAll(async () => {
  server = await startLocalServer();
  dir = await mkdtemp(path.join(tmpdir(), 'meshlink-cli-files-'));
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const cli = (args: string[], input?: string) => runCli(['--server', server.url, ...args], input === undefined ? {} : { input });

async function file(name: string, text: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
}

async function links(): Promise<Record<string, any>[]> {
  const res = await fetch(`${server.url}/links`);
  return ((await res.json()) as { links: Record<string, any>[] }).links;
}

function noStackTrace(run: CliRun): void {
  expect(run.stderr).not.toMatch(/^\s+at /m);
  expect(run.stdout + run.stderr).not.toMatch(/PRIVATE KEY/);
}

const mysql = specInput({}, 'mysql');
const pg = { ...specInput({}, 'pg'), kind: 'Link', client: { cluster: 'client-cluster', port: 5432 }, server: { cluster: 'server-cluster', service: 'pg.default.svc.cluster.local', port: 5432 } };

describe('usage errors: exit 2, nothing sent', () => {
  // Every usage error is covered in process (main.test.ts); here two, through the real process.
  it.each([
    ['an unknown command', ['frobnicate']],
    ['an unknown output format', ['get', 'links', '-o', 'xml']],
  ])('%s', async (_what, args) => {
    const run = await cli(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: /m);
    noStackTrace(run);
  });

  it('a server that is not an http(s) URL', async () => {
    const run = await runCli(['get', 'links', '--server', 'ftp://example.com']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('error: --server: ftp://example.com is not an http:// or https:// URL\n');
  });

  it('--help answers 0 and lists every command', async () => {
    const run = await runCli(['--help']);
    expect(run.code).toBe(0);
    for (const command of ['apply', 'get', 'describe', 'delete', 'rotate', 'sweep', 'check']) expect(run.stdout).toContain(`  ${command} `);
  });
});

describe('apply', () => {
  it('creates the links of a multi-document YAML file, then re-applies them (exit 0)', async () => {
    const f = await file('two.yaml', `${toYaml(mysql)}---\n${toYaml(pg)}---\n`);
    const first = await cli(['apply', '-f', f]);
    expect(first).toMatchObject({ code: 0, stdout: 'link/mysql created\nlink/pg created\n', stderr: '' });
    expect((await links()).map((l) => l.name).sort()).toEqual(['mysql', 'pg']);
    const again = await cli(['apply', '-f', f]);
    expect(again).toMatchObject({ code: 0, stdout: 'link/mysql applied\nlink/pg applied\n' });
  });

  it('reads JSON from standard input (-f -), an array of documents too', async () => {
    const run = await cli(['apply', '-f', '-'], JSON.stringify([mysql, pg]));
    expect(run).toMatchObject({ code: 0, stdout: 'link/mysql applied\nlink/pg applied\n' });
  });

  it('a document the API refuses: its message and field paths, exit 1, the other documents applied', async () => {
    const bad = { ...specInput({}, 'redis'), server: { cluster: 'server-cluster', service: 'redis.default.svc.cluster.local', port: 70000 } };
    const good = { ...specInput({}, 'cache'), client: { cluster: 'client-cluster', port: 6379 }, server: { cluster: 'server-cluster', service: 'cache.default.svc.cluster.local', port: 6380 } };
    const run = await cli(['apply', '-f', await file('mixed.yaml', `${toYaml(bad)}---\n${toYaml(good)}`)]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('link/cache created\n');
    expect(run.stderr).toBe('error: link/redis: invalid link spec (HTTP 400)\n  server.port: must be 1 to 65535\n');
    noStackTrace(run);
    expect((await links()).map((l) => l.name)).not.toContain('redis');
    expect((await cli(['delete', 'link', 'cache'])).code).toBe(0);
  });

  it.each([
    ['a missing file', null, /^error: .*missing\.yaml: no such file\n$/],
    ['YAML that does not parse', 'name: [unclosed\n', /document 1: not valid YAML or JSON/],
    ['JSON that does not parse (a .json file)', ['bad.json', '{"name": "x",}'], /document 1: not valid JSON/],
    ['an unknown kind', `${toYaml(specInput({}, 'fresh'))}---\nkind: Pod\nname: x\n`, /document 2\.kind: unknown kind "Pod": one of Link, Issuer/],
  ])('a bad file (%s): exit 1, one message, nothing sent (more cases in main.test.ts)', async (_what, text, message) => {
    const before = (await links()).map((l) => l.name).sort();
    const target = text === null ? path.join(dir, 'missing.yaml') : Array.isArray(text) ? await file(text[0]!, text[1]!) : await file(`bad-${Math.random().toString(36).slice(2)}.yaml`, text);
    const run = await cli(['apply', '-f', target]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
    noStackTrace(run);
    expect((await links()).map((l) => l.name).sort()).toEqual(before);
  });

  it('an Issuer document: its bundle is PUT as PEM; get lists it, a bad bundle is the API message, delete removes it', async () => {
    const root = opensslRoot('/CN=CLI Root');
    const doc = toYaml({ kind: 'Issuer', name: 'corp', bundle: pemBundle(opensslIntermediate(root, '/CN=CLI Mesh CA'), root) });
    expect(await cli(['apply', '-f', '-'], doc)).toMatchObject({ code: 0, stdout: 'issuer/corp created\n' });
    expect(await cli(['apply', '-f', '-'], doc)).toMatchObject({ code: 0, stdout: 'issuer/corp applied\n' });
    const table = await cli(['get', 'issuers']);
    expect(table.stdout).toMatch(/^NAME\s+TYPE\s+ROOT\s+EXPIRES\s+LINKS\s+AGE\n/);
    expect(table.stdout).toMatch(/^corp\s+bundle\s+CN=CLI Root\s+\d{4}-\d\d-\d\d\s+0\s+\d+s\n/m);
    const bad = await cli(['apply', '-f', '-'], toYaml({ kind: 'Issuer', name: 'corp', bundle: root.certificate }));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: issuer\/corp: invalid issuer bundle: no private key/);
    noStackTrace(bad);
    expect(await cli(['delete', 'issuer', 'corp'])).toMatchObject({ code: 0 });
    expect(await cli(['get', 'issuer', 'corp'])).toMatchObject({ code: 1, stderr: 'error: issuer corp not found (HTTP 404)\n' });
  });
});

describe('get', () => {
  it('a table of the links, no wider than 100 columns, times as "in 29d"', async () => {
    const long = { ...specInput({}, 'wide'), client: { cluster: `a-client-cluster-with-a-long-name-${'c'.repeat(40)}`, port: 7000 }, server: { cluster: `a-server-cluster-${'s'.repeat(60)}`, service: 'wide.default.svc.cluster.local', port: 7000 } };
    expect(await cli(['apply', '-f', '-'], JSON.stringify(long))).toMatchObject({ code: 0, stdout: 'link/wide created\n' });
    const run = await cli(['get', 'links']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+CLIENT\s+SERVER\s+PHASE\s+SYNC\s+CA\s+EXPIRES\s+RENEWS$/);
    expect(lines).toHaveLength(4);
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(100);
    expect(run.stdout).toMatch(/^mysql\s+client-cluster\s+server-cluster\s+stable\s+synced\s+1\s+in 29d\s+in 19d$/m);
    expect(run.stdout).toMatch(/^wide\s+a-client-.*…c+\s+a-server-.*…s+\s+stable\s+synced\s+1\s+in 29d\s+in 19d$/m);
  });

  it('-o json and -o yaml: what the API answers', async () => {
    const api = await (await fetch(`${server.url}/links`)).json();
    const json = await cli(['get', 'links', '-o', 'json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(api);
    const yaml = await cli(['get', 'link', 'mysql', '-o', 'yaml']);
    expect(parseYaml(yaml.stdout)).toEqual((api as { links: { name: string }[] }).links.find((l) => l.name === 'mysql'));
  });

  it('one link by name; a missing one is the API message and exit 1', async () => {
    const one = await cli(['get', 'link', 'pg']);
    expect(one.code).toBe(0);
    expect(one.stdout.trimEnd().split('\n')).toHaveLength(2);
    const missing = await cli(['get', 'link', 'nope']);
    expect(missing).toMatchObject({ code: 1, stdout: '', stderr: 'error: link nope not found (HTTP 404)\n' });
  });

});

describe('describe link', () => {
  it('both sides, expiry and renewal, CA generations, phase, last sync and last error, in words', async () => {
    const run = await cli(['describe', 'link', 'mysql']);
    expect(run.code).toBe(0);
    const status = (await (await fetch(`${server.url}/links/mysql`)).json()) as Record<string, any>;
    expect(run.stdout).toMatch(/^Phase: +stable since \d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d+[sm] ago\)$/m);
    expect(run.stdout).toMatch(/^Client side:\n {2}Cluster: +client-cluster$/m);
    expect(run.stdout).toMatch(/^Server side:\n {2}Cluster: +server-cluster$/m);
    expect(run.stdout).toMatch(/^ {2}Certificate: +expires \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 29d\)$/m);
    expect(run.stdout).toMatch(/^ {2}Renews: +\d{4}-.* \(in 19d\)$/m);
    expect(run.stdout).toContain(`  Fingerprint:   ${status.server.fingerprint}`);
    expect(run.stdout).toMatch(/^ {2}Last sync: +\d{4}-.* ago\)$/m);
    expect(run.stdout).toMatch(/^ {2}Last error: +none$/m);
    expect(run.stdout).toMatch(/^CA generations:\n {2}1 \(signing\): expires .*\(in 364d\), renews /m);
    expect(run.stdout).toMatch(/^ {2}Next step: +nothing to do until .*: /m);
    expect(run.stdout).toMatch(/^Pending cleanup: none$/m);
  });
});

describe('rotate and sweep', () => {
  it('rotate NAME: both leaves replaced (exit 0); --scope ca starts a rollover', async () => {
    const before = (await links()).find((l) => l.name === 'pg')!;
    const leaf = await cli(['rotate', 'pg']);
    expect(leaf).toMatchObject({ code: 0, stderr: '' });
    expect(leaf.stdout).toMatch(/^link\/pg: leaf rotation done \(steps: .*issue-leaf\(server\).*\)\n$/);
    const after = (await links()).find((l) => l.name === 'pg')!;
    expect(after.client.fingerprint).not.toBe(before.client.fingerprint);
    const ca = await cli(['rotate', 'pg', '--scope', 'ca', '-o', 'json']);
    expect(ca.code).toBe(0);
    expect(JSON.parse(ca.stdout)).toMatchObject({ scope: 'ca', completed: false, status: { phase: 'trust-added' } });
  });

  it('rotate of a missing link: the API message, exit 1', async () => {
    expect(await cli(['rotate', 'nope'])).toMatchObject({ code: 1, stderr: 'error: link nope not found (HTTP 404)\n' });
  });

  it('sweep: what it listed and what was due (exit 0)', async () => {
    const run = await cli(['sweep']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^listed 3 link\(s\) in 1 page\(s\); \d+ due\n/);
    const json = await cli(['sweep', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ listed: 3, pages: 1, errors: [] });
  });
});

describe('delete and the server', () => {
  it('delete link NAME: gone (exit 0)', async () => {
    expect(await cli(['delete', 'link', 'wide'])).toMatchObject({ code: 0, stdout: 'link/wide deleted\n' });
    expect((await links()).map((l) => l.name).sort()).toEqual(['mysql', 'pg']);
  });

  it('MESHLINK_SERVER when there is no --server', async () => {
    const run = await runCli(['get', 'links', '-o', 'json'], { env: { MESHLINK_SERVER: server.url } });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).links.map((l: { name: string }) => l.name).sort()).toEqual(['mysql', 'pg']);
  });

  it('an unreachable server is one line and exit 1', async () => {
    const run = await runCli(['get', 'links', '--server', `http://127.0.0.1:${await freePort()}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: cannot reach the meshlink server at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.*\n$/);
    expect(run.stdout).toBe('');
  });
});

describe('check', () => {
  it('all green: one line per condition with a mark, exit 0; -o json for scripts', async () => {
    const run = await cli(['check']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`√ ${server.url}: the server answers\n`);
    expect(run.stdout).toContain('√ link/mysql: both sides synced\n');
    expect(run.stdout).toContain('√ link/pg: no credential in its renewal window without a renewal scheduled\n');
    expect(run.stdout).toContain('√ link/mysql: no pending cleanup\n');
    expect(run.stdout).toMatch(/Status check results are √\n$/);
    const json = await cli(['check', '-o', 'json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { ok: boolean; checks: { check: string; subject: string; status: string }[] };
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => `${c.status} ${c.check} ${c.subject}`)).toEqual(
      expect.arrayContaining([`ok server ${server.url}`, 'ok synced link/mysql', 'ok renewal link/pg', 'ok cleanup link/pg']),
    );
  });

  it('a side that is not synced fails its check: exit 1 (text and json); describe tells the state and the error', async () => {
    const stuck = { ...specInput({}, 'stuck'), client: { cluster: 'kubeconfig:no-such-context', port: 7100 }, server: { cluster: 'server-cluster', service: 'stuck.default.svc.cluster.local', port: 7100 } };
    expect(await cli(['apply', '-f', '-'], JSON.stringify(stuck))).toMatchObject({ code: 0, stdout: 'link/stuck created\n' });
    const run = await cli(['check']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^× link\/stuck: client side is waiting-for-cluster: .*no-such-context/m);
    expect(run.stdout).toContain('√ link/mysql: both sides synced\n');
    expect(run.stdout).toMatch(/Status check results are ×\n$/);
    const json = await cli(['check', '-o', 'json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, checks: expect.arrayContaining([expect.objectContaining({ check: 'synced', subject: 'link/stuck', status: 'failed' })]) });
    const described = await cli(['describe', 'link', 'stuck']);
    expect(described.code).toBe(0);
    expect(described.stdout).toMatch(/^Client side:(\n {2}.*)*\n {2}Sync: +waiting-for-cluster$/m);
    expect(described.stdout).toMatch(/^ {2}Last error: +.*no-such-context/m);
  });

  it('a server that does not answer: the one failed check, exit 1', async () => {
    const run = await runCli(['check', '--server', `http://127.0.0.1:${await freePort()}`]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^× http:\/\/127\.0\.0\.1:\d+: cannot reach the meshlink server at .*ECONNREFUSED.*\n/);
  });
});
