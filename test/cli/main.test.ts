// The CLI in process (main() with captured streams): usage errors and their exit code, apply
// documents, and what the CLI's code may import (HTTP only: no server modules, no SDK clients).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocuments } from '../../shared/cli/documents.js';
import { main } from '../../shared/cli/main.js';

async function run(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (s) => void (stdout += s),
    stderr: (s) => void (stderr += s),
    stdin: async () => '',
    // Nothing listens here: a usage error must be found before any request.
    env: { MESHLINK_SERVER: 'http://127.0.0.1:9', ...env },
    now: () => new Date('2026-12-06T12:00:00Z'),
    mintIdToken: async () => {
      throw new Error('no token wanted');
    },
  });
  return { code, stdout, stderr };
}

describe('usage errors: exit 2, one message, no request', () => {
  it.each([
    ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['an unknown kind', ['get', 'pods'], /^error: unknown kind "pods": one of links, issuers$/m],
    ['an unknown output format', ['get', 'links', '-o', 'xml'], /argument 'xml' is invalid\. Allowed choices are table, json, yaml/],
    ['apply without -f', ['apply'], /required option '-f, --filename <file>' not specified/],
    ['an unknown rotation scope', ['rotate', 'mysql', '--scope', 'everything'], /Allowed choices are leaf, ca/],
    ['describe without a name', ['describe', 'link'], /missing required argument 'name'/],
    ['describe of another kind', ['describe', 'issuer', 'corp'], /^error: describe supports links only, not issuers$/m],
    ['delete of an unknown kind', ['delete', 'pod', 'x'], /^error: unknown kind "pod"/m],
    ['an unknown option', ['get', 'links', '--colour'], /unknown option '--colour'/],
    ['too many arguments', ['get', 'links', 'a', 'b'], /too many arguments/],
    ['a server that is not a URL', ['--server', 'localhost 8080', 'get', 'links'], /^error: --server: localhost 8080 is not a URL/m],
    ['a server URL with a query', ['--server', 'http://h/?x=1', 'get', 'links'], /has a query or fragment/],
    ['check -o yaml', ['check', '-o', 'yaml'], /Allowed choices are text, json/],
    ['an identity token to an http server', ['--server', 'http://meshlink.example.com', '--audience', 'https://meshlink-abc-ew.a.run.app', 'get', 'links'], /^error: --audience: an identity token is sent over https only/m],
  ])('%s', async (_what, args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('help answers 0', async () => {
    expect((await run(['--help'])).code).toBe(0);
    expect((await run(['help', 'get'])).code).toBe(0);
  });
});

describe('bad files: exit 1, one message, nothing sent (no server listens: a request would fail otherwise)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'meshlink-cli-bad-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['a directory', null, /^error: .*: is a directory\n$/],
    ['an empty file', '', /^error: .*: not a valid meshlink file\n {2}\(root\): no document/],
    ['only empty documents', '---\n---\n', /\(root\): no document/],
    ['a YAML alias', 'base: &b {port: 1}\nclient: *b\n', /document 1: .*alias/i],
    ['a document that is not a mapping', '- just\n- strings\n', /document 1: must be a mapping/],
    ['a duplicate key', 'name: a\nname: b\n', /document 1: not valid YAML or JSON: .*unique/i],
    ['a second document that does not parse', 'name: a\n---\nname: [b\n', /document 2: not valid YAML or JSON/],
  ])('%s', async (_what, text, message) => {
    const target = text === null ? dir : path.join(dir, `f-${Math.random().toString(36).slice(2)}.yaml`);
    if (text !== null) await writeFile(target, text);
    const r = await run(['apply', '-f', target]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/cannot reach/);
    expect(r.stdout).toBe('');
  });
});

describe('answers that are not the API', () => {
  it("a proxy's HTML error page: the request and the page's text, exit 1", async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const r = await run(['get', 'link', 'mysql'], { MESHLINK_SERVER: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
      expect(r).toEqual({ code: 1, stdout: '', stderr: 'error: GET /links/mysql: not a meshlink API answer (502 Bad Gateway) (HTTP 502)\n' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('delete link: what the API left', () => {
  it('says what waits for the sweep, sends ?force=true with --force, and says what was given up', async () => {
    const seen: string[] = [];
    const pending = [{ what: 'objects', side: 'client', cluster: 'edge', namespace: 'istio-system' }];
    const server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const forced = req.url!.endsWith('?force=true');
      res.writeHead(forced ? 200 : 202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ link: 'mysql', pending: forced ? [] : pending, abandoned: forced ? pending : [] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const env = { MESHLINK_SERVER: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
      expect(await run(['delete', 'link', 'mysql'], env)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^link\/mysql deleted; 1 place\(s\) whose cluster did not answer are left for the sweep/) });
      expect(await run(['delete', 'link', 'mysql', '--force'], env)).toMatchObject({ code: 0, stdout: 'link/mysql deleted; 1 place(s) given up\n' });
      expect(seen).toEqual(['DELETE /links/mysql', 'DELETE /links/mysql?force=true']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('apply documents', () => {
  it('YAML documents, empty ones skipped, kind routed and removed from the body', () => {
    const docs = parseDocuments('name: a\nhost: a.example.com\n---\n---\nkind: Issuer\nname: corp\n---\nkind: link\nname: b\n', 'f.yaml');
    expect(docs.map((d) => [d.kind.name, d.name, d.position, 'kind' in d.body])).toEqual([
      ['link', 'a', 1, false],
      ['issuer', 'corp', 2, false],
      ['link', 'b', 3, false],
    ]);
  });

  it('a JSON array and a YAML list are lists of documents', () => {
    expect(parseDocuments('[{"name": "a"}, {"name": "b"}]', 'f.json').map((d) => d.name)).toEqual(['a', 'b']);
    expect(parseDocuments('- name: a\n- name: b\n', '-').map((d) => d.name)).toEqual(['a', 'b']);
  });

  it('every bad document is named, none is returned', () => {
    expect(() => parseDocuments('name: a\n---\n42\n---\nkind: Pod\n', 'f.yaml')).toThrow(
      expect.objectContaining({
        code: 'invalid-argument',
        details: [
          { path: 'document 2', message: 'must be a mapping (a link spec)' },
          { path: 'document 3.kind', message: 'unknown kind "Pod": one of Link, Issuer' },
        ],
      }),
    );
  });
});

/** The modules a file imports at run time, recursively (type-only imports are erased). */
function runtimeImports(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
    const spec = (m[1] ?? m[2])!;
    if (spec.startsWith('.')) runtimeImports(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')), seen);
    else seen.add(spec);
  }
  return seen;
}

describe('the CLI talks HTTP only', () => {
  it('imports no server module and no SDK client, only commander, yaml and google-auth-library', () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const imports = [...runtimeImports(path.join(root, 'shared/cli/process.ts'))];
    const own = imports.filter((i) => i.startsWith(root)).map((i) => path.relative(root, i));
    expect(own.filter((f) => !f.startsWith('shared/cli/'))).toEqual(['shared/errors.ts']);
    expect(imports.filter((i) => !i.startsWith(root)).sort()).toEqual(
      ['commander', 'google-auth-library', 'node:fs/promises', 'node:http', 'node:https', 'yaml'].sort(),
    );
  });
});
