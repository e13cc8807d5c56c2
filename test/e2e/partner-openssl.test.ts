// One-sided links against TLS ends this project did not write: `openssl s_server` as the partner's
// server (requiring and verifying our client certificate against ca.pem: -Verify,
// -verify_return_error) and `openssl s_client` as the partner's client. Our side is played as its
// gateway would: the egress originates mTLS with the client Secret (SNI the host, the
// DestinationRule's SANs pinned); the ingress terminates with the server Secret (the Gateway's
// SANs pinned). Partner CAs and leaves are made by openssl at test time.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handleApiRequest } from '../../functions/http-api.js';
import { applyLink } from '../../shared/app/provision.js';
import { getLink } from '../../shared/app/queries.js';
import { rotateLink } from '../../shared/app/rotate.js';
import { credentialName, objectNames } from '../../shared/link/names.js';
import type { SdsCredential } from '../../shared/pki/types.js';
import { testApp, type TestApp } from '../support/app.js';
import type { AppSettings } from '../../shared/app/deps.js';
import { specInput } from '../support/builders.js';
import { credentialFromSecret, until } from '../support/dataplane.js';
import { partnerPki, type PartnerFiles, type PartnerPki } from '../support/partner-pki.js';
import { opensslIntermediate, opensslRoot, pemBundle } from '../support/openssl-ca.js';
import { putIssuerBundle } from '../../shared/app/issuers.js';
import { splitPemBundle } from '../../shared/pki/inspect.js';
import { certificateFacts } from '../../shared/pki/issuer-bundle.js';
import { readFileSync } from 'node:fs';

const HOST = 'mysql.link.example.com';
const LOOPBACK = '127.0.0.1';
const DAY = 86_400_000;
const SERVER_SANS = ['spiffe://partner.example/db', 'db.partner.example'];
const CLIENT_SANS = ['spiffe://partner.example/app'];

let partner: PartnerPki;
let stranger: PartnerPki;
let partnerServer: PartnerFiles;
let partnerClient: PartnerFiles;
let unpinnedClient: PartnerFiles;
let strangerClient: PartnerFiles;
beforeAll(() => {
  partner = partnerPki();
  stranger = partnerPki({ cn: 'Stranger CA' });
  partnerServer = partner.leaf('partner-server', ['DNS:db.partner.example', 'URI:spiffe://partner.example/db']);
  partnerClient = partner.leaf('partner-client', ['URI:spiffe://partner.example/app']);
  unpinnedClient = partner.leaf('unpinned-client', ['URI:spiffe://partner.example/someone-else']);
  strangerClient = stranger.leaf('stranger-client', ['URI:spiffe://partner.example/app']);
});
afterAll(() => {
  partner.remove();
  stranger.remove();
});

const children: ChildProcessWithoutNullStreams[] = [];
const servers: net.Server[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.kill();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, LOOPBACK, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Runs openssl; `output` collects stdout and stderr as they come. */
function openssl(args: string[]): { child: ChildProcessWithoutNullStreams; output: () => string; exited: Promise<number | null> } {
  const child = spawn('openssl', args, { stdio: 'pipe' });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, output: () => out, exited };
}

/**
 * The partner's server: requires a client certificate that verifies against `caFile`, echoes lines
 * reversed. `depth`: the verify depth (-Verify), 1 for a leaf of a link CA, more under an
 * organisation's root (leaf, link CA and the organisation's chain).
 */
async function partnerSServer(caFile: string, cert = partnerServer, depth = 1): Promise<{ port: number; output: () => string }> {
  const port = await freePort();
  const s = openssl(['s_server', '-accept', `${LOOPBACK}:${port}`, '-cert', cert.cert, '-key', cert.key, '-CAfile', caFile, '-Verify', String(depth), '-verify_return_error', '-rev']);
  await until(() => s.output().includes('ACCEPT'), 'openssl s_server to listen');
  return { port, output: s.output };
}

/** Does the peer certificate carry one of the pinned SANs (as Istio's subjectAltNames check)? */
function pinned(cert: { subjectaltname?: string }, sans: string[]): boolean {
  const names = (cert.subjectaltname ?? '').split(', ').map((n) => n.replace(/^(DNS|URI):/, ''));
  return sans.some((san) => names.includes(san));
}

/** The egress gateway's hop to the partner: mTLS with the client Secret, SNI the host, SANs pinned. */
function egressDial(secret: SdsCredential, port: number, sans: string[], line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: LOOPBACK,
      port,
      servername: HOST,
      cert: secret['tls.crt'],
      key: secret['tls.key'],
      ca: secret['ca.crt'],
      checkServerIdentity: (_host, cert) => (pinned(cert, sans) ? undefined : new Error(`server certificate carries none of ${sans.join(', ')}`)),
    });
    let got = '';
    socket.on('secureConnect', () => socket.write(`${line}\n`));
    socket.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('\n')) {
        socket.end();
        resolve(got.trim());
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed before an answer (got ${JSON.stringify(got)})`)));
  });
}

/** Our ingress gateway: terminates mTLS with the server Secret, pins the client's SANs, echoes. */
async function ingress(secret: SdsCredential, sans: string[]): Promise<{ port: number; refusals: string[] }> {
  const refusals: string[] = [];
  // The verdict is taken once the handshake is done (rejectUnauthorized off), so the reason is kept.
  const server = tls.createServer({ cert: secret['tls.crt'], key: secret['tls.key'], ca: secret['ca.crt'], requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, (socket) => {
    if (!socket.authorized) {
      refusals.push(`client certificate not trusted: ${String(socket.authorizationError)}`);
      socket.destroy();
      return;
    }
    if (!pinned(socket.getPeerCertificate(), sans)) {
      refusals.push('client certificate not pinned');
      socket.destroy();
      return;
    }
    socket.on('data', (d) => socket.write(d));
  });
  server.on('tlsClientError', (err) => refusals.push(err.message));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return { port: (server.address() as net.AddressInfo).port, refusals };
}

/** The partner's client: openssl s_client with its certificate, trusting ca.pem; sends a line, returns what came back. */
async function partnerSClient(port: number, caFile: string, cert: PartnerFiles, line: string): Promise<{ echoed: boolean; output: string }> {
  const c = openssl(['s_client', '-connect', `${LOOPBACK}:${port}`, '-servername', HOST, '-cert', cert.cert, '-key', cert.key, '-CAfile', caFile, '-verify_return_error', '-brief']);
  c.child.stdin.write(`${line}\n`);
  const done = await Promise.race([until(() => c.output().includes(`${line}\n`), 'the echo').then(() => true), c.exited.then(() => false)]).catch(() => false);
  c.child.kill();
  return { echoed: done, output: c.output() };
}

async function caPemFile(app: TestApp, name: string): Promise<string> {
  const res = await handleApiRequest(app.deps, { method: 'GET', path: '/links/mysql/ca.pem', body: Buffer.alloc(0) });
  expect(res.headers?.['content-type']).toBe('application/x-pem-file');
  return partner.write(name, String(res.body));
}

function secretOf(app: TestApp, cluster: string, side: 'client' | 'server'): SdsCredential {
  return credentialFromSecret(app.clusters.target(cluster).get('Secret', 'istio-system', credentialName('mysql', side)), side);
}

function pinnedSans(app: TestApp, cluster: string, kind: 'DestinationRule' | 'Gateway'): string[] {
  const names = objectNames('mysql');
  const obj = app.clusters.target(cluster).get(kind, 'istio-system', kind === 'Gateway' ? names.ingressGateway : names.originateDestinationRule) as unknown as { spec: any };
  return kind === 'Gateway' ? obj.spec.servers[0].tls.subjectAltNames : obj.spec.trafficPolicy.portLevelSettings[0].tls.subjectAltNames;
}

describe('server.external against openssl s_server', () => {
  const spec = () => specInput({ server: { external: { address: LOOPBACK, port: 5432, caCertificates: partner.ca.pem, subjectAltNames: SERVER_SANS } } });

  it('the client Secret makes a mutual-TLS connection the partner server verifies against ca.pem', async () => {
    const app = testApp({ start: new Date().toISOString() });
    await applyLink(app.deps, spec());
    const server = await partnerSServer(await caPemFile(app, 'ca-1.pem'));
    expect(await egressDial(secretOf(app, 'client-cluster', 'client'), server.port, pinnedSans(app, 'client-cluster', 'DestinationRule'), 'hello partner')).toBe('rentrap olleh');
  });

  it('a partner server that does not trust ca.pem refuses our client certificate', async () => {
    const app = testApp({ start: new Date().toISOString() });
    await applyLink(app.deps, spec());
    const server = await partnerSServer(stranger.ca.cert);
    await expect(egressDial(secretOf(app, 'client-cluster', 'client'), server.port, SERVER_SANS, 'hello')).rejects.toThrow();
    await until(() => /verify error|certificate verify failed|unable to get local issuer/i.test(server.output()), 'the refusal');
  });

  it('our egress refuses a partner server whose certificate carries none of the pinned SANs', async () => {
    const app = testApp({ start: new Date().toISOString() });
    await applyLink(app.deps, spec());
    const server = await partnerSServer(await caPemFile(app, 'ca-2.pem'), partner.leaf('other-server', ['DNS:other.partner.example']));
    await expect(egressDial(secretOf(app, 'client-cluster', 'client'), server.port, pinnedSans(app, 'client-cluster', 'DestinationRule'), 'hello')).rejects.toThrow(/carries none of/);
  });

  it('during a CA rollover the partner server trusting ca.pem (old and new) accepts our leaf of either CA', async () => {
    // The app clock starts far enough back that the rollover ends a day ago: every certificate it mints is valid in real time.
    const app = testApp({ start: new Date(Date.now() - 44 * DAY).toISOString(), settings: { rolloverGraceMs: 3 * DAY, partnerLeadMs: 3 * DAY } });
    await applyLink(app.deps, specInput({ ...spec(), certificates: { leafTtl: '30d', caTtl: '60d' } }));
    // A partner that fetched ca.pem before the rollover, and never again, trusts the old CA only.
    const before = await caPemFile(app, 'ca-before.pem');
    app.clock.advance(40 * DAY);
    await rotateLink(app.deps, 'mysql');
    expect((await getLink(app.deps, 'mysql')).phase).toBe('trust-added');
    const oldLeaf = secretOf(app, 'client-cluster', 'client');
    const both = await partnerSServer(await caPemFile(app, 'ca-rollover.pem'));
    expect(await egressDial(oldLeaf, both.port, SERVER_SANS, 'old')).toBe('dlo');
    app.clock.advance(3 * DAY);
    await rotateLink(app.deps, 'mysql');
    expect((await getLink(app.deps, 'mysql')).client.caGeneration).toBe(2);
    const newLeaf = secretOf(app, 'client-cluster', 'client');
    expect(await egressDial(newLeaf, both.port, SERVER_SANS, 'new')).toBe('wen');
    const stale = await partnerSServer(before);
    await expect(egressDial(newLeaf, stale.port, SERVER_SANS, 'new')).rejects.toThrow();
  });
});

describe('client.external against openssl s_client', () => {
  const spec = () => specInput({ client: { external: { caCertificates: partner.ca.pem, subjectAltNames: CLIENT_SANS } } });

  async function started() {
    const app = testApp({ start: new Date().toISOString() });
    await applyLink(app.deps, spec());
    const gateway = await ingress(secretOf(app, 'server-cluster', 'server'), pinnedSans(app, 'server-cluster', 'Gateway'));
    return { app, gateway, caFile: await caPemFile(app, `ca-${gateway.port}.pem`) };
  }

  it('the partner client, trusting ca.pem, makes a mutual-TLS connection our ingress accepts', async () => {
    const { gateway, caFile } = await started();
    const result = await partnerSClient(gateway.port, caFile, partnerClient, 'hello meshlink');
    expect(result).toMatchObject({ echoed: true });
    expect(result.output).toMatch(/Verification: OK/);
  });

  it('our ingress refuses a client of another CA, and one of the partner CA without a pinned SAN', async () => {
    const { gateway, caFile } = await started();
    expect((await partnerSClient(gateway.port, caFile, strangerClient, 'stranger')).echoed).toBe(false);
    expect((await partnerSClient(gateway.port, caFile, unpinnedClient, 'unpinned')).echoed).toBe(false);
    await until(() => gateway.refusals.length === 2, 'both refusals');
    expect(gateway.refusals).toEqual([expect.stringMatching(/^client certificate not trusted: UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT)/), 'client certificate not pinned']);
  });

  it('a partner client that does not trust ca.pem refuses our server certificate', async () => {
    const { gateway } = await started();
    const result = await partnerSClient(gateway.port, stranger.ca.cert, partnerClient, 'hello');
    expect(result.echoed).toBe(false);
    expect(result.output).toMatch(/verify error|certificate verify failed/i);
  });
});

describe('one-sided links under an organisation root (issuer)', () => {
  const rootA = opensslRoot('/O=Example Bank/CN=Partner Link Root A');
  const rootB = opensslRoot('/O=Example Bank/CN=Partner Link Root B');
  const bundleA = pemBundle(opensslIntermediate(rootA, '/O=Example Bank/CN=Mesh CA A'), rootA);
  const bundleB = pemBundle(opensslIntermediate(rootB, '/O=Example Bank/CN=Mesh CA B'), rootB);
  const DEPTH = 3; // leaf, link CA, issuing CA, then the root
  const subjects = (pem: string) => splitPemBundle(pem).map((c) => certificateFacts(c).subject);

  async function underIssuer(sides: Record<string, unknown>, settings: Partial<AppSettings> = {}) {
    // A minute ahead of the openssl certificates, which start the second they are made.
    const app = testApp({ start: new Date(Date.now() + 60_000).toISOString(), settings });
    await putIssuerBundle(app.deps, 'corp', bundleA);
    await applyLink(app.deps, specInput({ issuer: 'corp', ...sides }));
    return app;
  }
  const server = () => ({ server: { external: { address: LOOPBACK, port: 5432, caCertificates: partner.ca.pem, subjectAltNames: SERVER_SANS } } });
  const client = () => ({ client: { external: { caCertificates: partner.ca.pem, subjectAltNames: CLIENT_SANS } } });

  it('ca.pem is the root alone; openssl s_server trusting it verifies our client chain', async () => {
    const app = await underIssuer(server());
    const caFile = await caPemFile(app, 'issuer-root.pem');
    expect(subjects(readFileSync(caFile, 'utf8'))).toEqual(['O=Example Bank, CN=Partner Link Root A']);
    const s = await partnerSServer(caFile, partnerServer, DEPTH);
    expect(await egressDial(secretOf(app, 'client-cluster', 'client'), s.port, pinnedSans(app, 'client-cluster', 'DestinationRule'), 'under root')).toBe('toor rednu');
  });

  it('openssl s_client trusting ca.pem (the root) verifies our server chain; our ingress accepts it', async () => {
    const app = await underIssuer(client());
    const gateway = await ingress(secretOf(app, 'server-cluster', 'server'), pinnedSans(app, 'server-cluster', 'Gateway'));
    const result = await partnerSClient(gateway.port, await caPemFile(app, `issuer-${gateway.port}.pem`), partnerClient, 'hello root');
    expect(result).toMatchObject({ echoed: true });
    expect(result.output).toMatch(/Verification: OK/);
  });

  it('the issuer moved to a new root: ca.pem holds both roots during the rollover, the new one alone after', async () => {
    // Short waits: every certificate minted stays valid in real time (back-dated 5 minutes).
    const GRACE = 30_000;
    const app = await underIssuer(server(), { rolloverGraceMs: GRACE, partnerLeadMs: GRACE });
    await putIssuerBundle(app.deps, 'corp', bundleB);
    await rotateLink(app.deps, 'mysql');
    expect((await getLink(app.deps, 'mysql')).phase).toBe('trust-added');
    const both = await caPemFile(app, 'issuer-both.pem');
    expect(subjects(readFileSync(both, 'utf8'))).toEqual(['O=Example Bank, CN=Partner Link Root A', 'O=Example Bank, CN=Partner Link Root B']);
    const s = await partnerSServer(both, partnerServer, DEPTH);
    expect(await egressDial(secretOf(app, 'client-cluster', 'client'), s.port, SERVER_SANS, 'old')).toBe('dlo');
    for (let i = 0; i < 4 && (await getLink(app.deps, 'mysql')).phase !== 'stable'; i++) {
      app.clock.advance(GRACE + 1_000);
      await rotateLink(app.deps, 'mysql');
    }
    const status = await getLink(app.deps, 'mysql');
    expect([status.phase, status.client.caGeneration]).toEqual(['stable', 2]);
    expect(await egressDial(secretOf(app, 'client-cluster', 'client'), s.port, SERVER_SANS, 'new')).toBe('wen');
    expect(subjects(readFileSync(await caPemFile(app, 'issuer-after.pem'), 'utf8'))).toEqual(['O=Example Bank, CN=Partner Link Root B']);
    // A partner that kept root A alone refuses our leaf under root B.
    const stale = await partnerSServer(partner.write('issuer-stale.pem', rootA.certificate), partnerServer, DEPTH);
    await expect(egressDial(secretOf(app, 'client-cluster', 'client'), stale.port, SERVER_SANS, 'new')).rejects.toThrow();
  });
});
