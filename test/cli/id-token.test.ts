// The identity-token path: which servers get a token and for which audience; google-auth-library's
// ID token client on application default credentials (a service-account file made at test time,
// the token endpoint answered by the transporter); and the CLI as a child process against a local
// HTTPS server that admits only `Authorization: Bearer <JWT-shaped token>` for the right audience.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../../shared/cli/http.js';
import { googleIdToken, identityTokenAudience, tokenSourceFor } from '../../shared/cli/server.js';
import { runCli } from './support.js';

// The HTTPS cases start node processes; on a busy machine that is slow, never wrong.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

describe('which server gets an identity token, for which audience', () => {
  it.each([
    ['https://europe-west1-my-project.cloudfunctions.net/meshlinkApi', 'https://europe-west1-my-project.cloudfunctions.net/meshlinkApi'],
    ['https://europe-west1-my-project.cloudfunctions.net/meshlinkApi/', 'https://europe-west1-my-project.cloudfunctions.net/meshlinkApi'],
    ['https://meshlink-api-abc123xyz-ew.a.run.app', 'https://meshlink-api-abc123xyz-ew.a.run.app'],
    ['https://meshlink-api-abc123xyz-ew.a.run.app/', 'https://meshlink-api-abc123xyz-ew.a.run.app'],
    ['https://MESHLINK-API-abc123xyz-ew.A.RUN.APP', 'https://meshlink-api-abc123xyz-ew.a.run.app'],
    ['http://meshlink-api-abc123xyz-ew.a.run.app', undefined],
    ['http://localhost:8080', undefined],
    ['https://meshlink.example.com', undefined],
    ['https://run.app.example.com', undefined],
    ['https://cloudfunctions.net.example.com/x', undefined],
  ])('%s -> %s', (url, audience) => {
    expect(identityTokenAudience(new URL(url))).toBe(audience);
  });

  it('a serverless URL: the minter is asked once for that audience, and the token is sent as Bearer', async () => {
    const asked: string[] = [];
    const source = tokenSourceFor(new URL('https://meshlink-api-abc123xyz-ew.a.run.app'), async (aud) => (asked.push(aud), 'h.p.s'));
    expect(await source()).toBe('Bearer h.p.s');
    expect(await source()).toBe('Bearer h.p.s');
    expect(asked).toEqual(['https://meshlink-api-abc123xyz-ew.a.run.app']);
  });

  it('any other server: no token, and no credentials looked up', async () => {
    const source = tokenSourceFor(new URL('http://localhost:8080'), async () => {
      throw new Error('must not be called');
    });
    expect(await source()).toBeUndefined();
  });

  it('an explicit audience (a custom domain in front of Cloud Run) wins', async () => {
    const asked: string[] = [];
    const source = tokenSourceFor(new URL('https://meshlink.example.com'), async (aud) => (asked.push(aud), 'h.p.s'), 'https://meshlink-api-abc123xyz-ew.a.run.app');
    expect(await source()).toBe('Bearer h.p.s');
    expect(asked).toEqual(['https://meshlink-api-abc123xyz-ew.a.run.app']);
  });
});

describe("google-auth-library's ID token client on application default credentials", () => {
  let dir: string;
  const saved = process.env.GOOGLE_APPLICATION_CREDENTIALS;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'meshlink-adc-'));
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const account = {
      type: 'service_account',
      project_id: 'my-project',
      private_key_id: 'test-key',
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: 'meshlink-operator@my-project.iam.gserviceaccount.com',
      client_id: '1',
      token_uri: 'https://oauth2.googleapis.com/token',
    };
    await writeFile(path.join(dir, 'adc.json'), JSON.stringify(account), { mode: 0o600 });
    process.env.GOOGLE_APPLICATION_CREDENTIALS = path.join(dir, 'adc.json');
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
    else process.env.GOOGLE_APPLICATION_CREDENTIALS = saved;
    await rm(dir, { recursive: true, force: true });
  });

  it('signs an assertion for the target audience as the service account and returns the id_token', async () => {
    const seen: { url: string; claims: Record<string, unknown> }[] = [];
    const fetchImplementation = async (url: unknown, init?: { body?: unknown }) => {
      const form = new URLSearchParams(String(init?.body));
      const assertion = form.get('assertion') ?? '';
      seen.push({ url: String(url), claims: JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8')) });
      return new Response(JSON.stringify({ id_token: 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln' }), { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const mint = googleIdToken({ clientOptions: { transporterOptions: { fetchImplementation } } } as never);
    const audience = identityTokenAudience(new URL('https://europe-west1-my-project.cloudfunctions.net/meshlinkApi'))!;
    expect(await mint(audience)).toBe('eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe('https://oauth2.googleapis.com/token');
    expect(seen[0]!.claims).toMatchObject({ iss: 'meshlink-operator@my-project.iam.gserviceaccount.com', target_audience: 'https://europe-west1-my-project.cloudfunctions.net/meshlinkApi' });
  });
});

const AUDIENCE = 'https://meshlink-api-abc123xyz-ew.a.run.app';

/** `Bearer <header>.<payload>.<signature>`, base64url, header and payload JSON, the payload naming `aud`. */
function bearerAudience(header: string | undefined): string | undefined {
  const m = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!m) return undefined;
  try {
    const head = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8')) as { alg?: unknown };
    const claims = JSON.parse(Buffer.from(m[2]!, 'base64url').toString('utf8')) as { aud?: unknown };
    return typeof head.alg === 'string' && typeof claims.aud === 'string' ? claims.aud : undefined;
  } catch {
    return undefined;
  }
}

describe('the CLI against an HTTPS server that wants an identity token', () => {
  let dir: string;
  let server: https.Server;
  let url: string;
  const authorizations: (string | undefined)[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'meshlink-tls-'));
    // A self-signed certificate for 127.0.0.1, minted now (never committed).
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    server = https.createServer({ key: await readFile(path.join(dir, 'key.pem')), cert: await readFile(path.join(dir, 'cert.pem')) }, (req, res) => {
      authorizations.push(req.headers.authorization);
      const aud = bearerAudience(req.headers.authorization);
      res.setHeader('content-type', 'application/json');
      if (aud !== AUDIENCE) {
        res.statusCode = 401;
        res.end(JSON.stringify({ error: 'a Google identity token for this service is required' }));
        return;
      }
      res.end(JSON.stringify({ links: [] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli(['--server', url, ...args], { script: ['--import', 'tsx', path.join(import.meta.dirname, 'fake-token-cli.ts')], env: { NODE_EXTRA_CA_CERTS: path.join(dir, 'cert.pem'), ...env } });

  it('--audience: the request carries Bearer <JWT> for that audience and succeeds', async () => {
    authorizations.length = 0;
    const run = await cli(['get', 'links', '-o', 'json', '--audience', AUDIENCE]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toEqual({ links: [] });
    expect(authorizations).toHaveLength(1);
    expect(bearerAudience(authorizations[0])).toBe(AUDIENCE);
  });

  it('MESHLINK_AUDIENCE does the same', async () => {
    const run = await cli(['get', 'links'], { MESHLINK_AUDIENCE: AUDIENCE });
    expect(run).toMatchObject({ code: 0, stdout: '', stderr: 'No links found.\n' });
  });

  it('without a token the server refuses: its message, exit 1', async () => {
    authorizations.length = 0;
    const run = await cli(['get', 'links']);
    expect(run).toMatchObject({ code: 1, stdout: '', stderr: 'error: a Google identity token for this service is required (HTTP 401)\n' });
    expect(authorizations).toEqual([undefined]);
  });

  it('a token for another audience is refused', async () => {
    const run = await cli(['get', 'links', '--audience', 'https://other-service-abc123xyz-ew.a.run.app']);
    expect(run.code).toBe(1);
  });

  it('an audience that is not an https URL is a usage error', async () => {
    const run = await cli(['get', 'links', '--audience', 'meshlink']);
    expect(run).toMatchObject({ code: 2, stderr: 'error: --audience: meshlink is not an https:// URL\n' });
  });

  it('a certificate the CLI does not trust: one line, exit 1', async () => {
    const run = await runCli(['--server', url, 'get', 'links']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: cannot reach the meshlink server at https:\/\/127\.0\.0\.1:\d+: .*self[- ]signed.*\n$/i);
  });
});

describe('an unreachable server', () => {
  it('a server that accepts connections but never completes TLS: a one-line error once the connect timeout passes', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const client = new ApiClient(new URL(`https://127.0.0.1:${(silent.address() as net.AddressInfo).port}`), undefined, 200);
    await expect(client.request('GET', '/links')).rejects.toThrow(/^cannot reach the meshlink server at https:\/\/127\.0\.0\.1:\d+: no connection within 0\.2 s$/);
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });
});
