// End-to-end (issue 2): the Secrets a link's creation writes are accepted by a real TLS stack as a
// mutual-TLS pair for the link's host, through a loopback egress and ingress, and nothing else is.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { handleApiRequest } from '../../functions/http-api.js';
import type { AppDeps } from '../../shared/app/deps.js';
import { localClusterDir } from '../../shared/clusters/resolver.js';
import { composeApp } from '../../shared/compose.js';
import { parseConfig } from '../../shared/config.js';
import { credentialName, objectNames, sideIdentity, type Side } from '../../shared/link/names.js';
import { memoryLogger } from '../support/log.js';
import { mintCa, mintLeaf } from '../../shared/pki/mint.js';
import type { CredentialPem, SdsCredential } from '../../shared/pki/types.js';
import { testApp, type TestApp } from '../support/app.js';
import { specInput, withField } from '../support/builders.js';
import {
  clientTlsOptions,
  openConnection,
  roundTrip,
  secretFromCluster,
  secretFromDirectory,
  startDataPlane,
  tlsRoundTrip,
  type DataPlane,
  type DataPlaneOptions,
} from '../support/dataplane.js';

const NAMESPACE = 'istio-system';
const HOST = 'mysql.link.example.com';
const OTHER_HOST = 'pg.link.example.com';

const planes: DataPlane[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(planes.splice(0).map((p) => p.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function plane(opts: DataPlaneOptions): Promise<DataPlane> {
  const p = await startDataPlane(opts);
  planes.push(p);
  return p;
}

async function createLink(deps: AppDeps, input: object): Promise<Record<string, any>> {
  const res = await handleApiRequest(deps, { method: 'POST', path: '/links', contentType: 'application/json', body: Buffer.from(JSON.stringify(input)) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as Record<string, any>;
}

/** The app on in-memory clusters at the real time: the TLS stack checks validity against the system clock. */
function realTimeApp(): TestApp {
  return testApp({ start: new Date().toISOString() });
}

/** The two Secrets a link's creation wrote, read live from the in-memory clusters. */
function clusterSecrets(app: TestApp, link: string): Record<Side, () => SdsCredential> {
  return {
    client: secretFromCluster(app.clusters.target('client-cluster'), NAMESPACE, credentialName(link, 'client')),
    server: secretFromCluster(app.clusters.target('server-cluster'), NAMESPACE, credentialName(link, 'server')),
  };
}

type LinkSecrets = { mysql: Record<Side, () => SdsCredential>; pg: Record<Side, () => SdsCredential> };

/** The mysql link and a second one (pg, its own CA), and a data plane for mysql (its server presenting `serverSecret`). */
async function twoLinks(serverSecret: (s: LinkSecrets) => SdsCredential = (s) => s.mysql.server()) {
  const app = realTimeApp();
  const mysql = await createLink(app.deps, specInput());
  await createLink(app.deps, withField(specInput({}, 'pg'), 'server.gatewayPort', 15432));
  const secrets: LinkSecrets = { mysql: clusterSecrets(app, 'mysql'), pg: clusterSecrets(app, 'pg') };
  const dp = await plane({ host: HOST, link: 'mysql', clientSecret: secrets.mysql.client, serverSecret: () => serverSecret(secrets) });
  return { app, mysql, secrets, dp };
}

/** 'accepted' when the payload came back unchanged, else what went wrong. */
function outcomeOf(echo: Promise<Buffer>, payload: Buffer): Promise<string> {
  return echo.then(
    (echoed) => (echoed.equals(payload) ? 'accepted' : 'echo differs'),
    (err: Error) => `refused: ${err.message}`,
  );
}

/** An accepted round trip: one handshake, no failure. */
function expectAccepted(dp: DataPlane, outcome: string): void {
  expect(outcome).toBe('accepted');
  expect(dp.stats).toMatchObject({ handshakesOk: 1, handshakeFailures: 0, failures: [] });
}

/** A refused handshake at `side`'s proxy, before any byte went through, with the reason expected. */
async function expectRefusedAt(dp: DataPlane, side: 'ingress' | 'egress', outcome: string, expected: RegExp): Promise<void> {
  expect(outcome).toMatch(/^refused: connection ended after 0 of 64 bytes/);
  expect(await dp.failureMatching(new RegExp(`^${side}: `))).toMatch(expected);
  expect(dp.stats.handshakesOk).toBe(0);
  expect((side === 'ingress' ? dp.stats.clientCertificates : dp.stats.serverCertificates).size).toBe(0);
}

describe('a link created by POST /links carries bytes both ways', () => {
  const payloads: [string, () => Buffer][] = [
    ['one byte', () => Buffer.from([0x0a])],
    ['a MySQL greeting-sized packet', () => randomBytes(78)],
    ['every byte value', () => Buffer.from(Array.from({ length: 256 }, (_, i) => i))],
    ['a 400 KB result set', () => randomBytes(400 * 1024)],
  ];

  it.each(payloads)('echoes %s through egress and ingress on a new connection', async (_label, make) => {
    const { mysql, dp } = await twoLinks();
    const payload = make();
    const echoed = await roundTrip(dp.egressPort, payload);
    expect(echoed.equals(payload)).toBe(true);
    expect(dp.stats).toMatchObject({ handshakesOk: 1, handshakeFailures: 0, failures: [] });
    // The certificates that did the handshake are the ones the link reports.
    expect([...dp.stats.clientCertificates.keys()]).toEqual([mysql.client.fingerprint]);
    expect([...dp.stats.serverCertificates.keys()]).toEqual([mysql.server.fingerprint]);
  });

  it('carries every payload in turn on one long-lived connection', async () => {
    const { dp } = await twoLinks();
    const conn = await openConnection(dp.egressPort);
    for (const [label, make] of payloads) {
      const payload = make();
      expect((await conn.exchange(payload)).equals(payload), label).toBe(true);
    }
    await conn.close();
    expect(dp.stats).toMatchObject({ handshakesOk: 1, handshakeFailures: 0, failures: [] });
  });
});

describe("the ingress refuses clients that are not the link's client", () => {
  type Secrets = Awaited<ReturnType<typeof twoLinks>>['secrets'];
  const cases: [string, (s: Secrets) => ConnectionOptions, RegExp | 'accepted'][] = [
    ["the link's own client certificate (control)", (s) => clientTlsOptions(s.mysql.client(), HOST), 'accepted'],
    ['no client certificate', (s) => ({ ca: s.mysql.client()['ca.crt'], servername: HOST }), /^ingress: handshake refused \(SNI "mysql\.link\.example\.com"\): .*peer did not return a certificate/],
    [
      "a client certificate from another link's CA",
      (s) => clientTlsOptions({ ...s.pg.client(), 'ca.crt': s.mysql.client()['ca.crt'] }, HOST),
      /^ingress: handshake refused \(SNI "mysql\.link\.example\.com"\): client certificate refused: UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT_LOCALLY)/,
    ],
    ["a wrong host in SNI (another link's host)", (s) => clientTlsOptions(s.mysql.client(), OTHER_HOST), /^ingress: handshake refused \(SNI "pg\.link\.example\.com"\): SNI "pg\.link\.example\.com" is not the link host/],
    ['no SNI at all', (s) => clientTlsOptions(s.mysql.client(), undefined), /^ingress: handshake refused \(no SNI\)/],
  ];

  it.each(cases)('%s', async (_label, options, expected) => {
    const { secrets, dp } = await twoLinks();
    const payload = randomBytes(64);
    const outcome = await outcomeOf(tlsRoundTrip(dp.ingressPort, options(secrets), payload), payload);
    if (expected === 'accepted') expectAccepted(dp, outcome);
    else await expectRefusedAt(dp, 'ingress', outcome, expected);
  });
});

describe("the egress refuses a server that is not the link's server", () => {
  const cases: [string, (s: LinkSecrets) => SdsCredential, RegExp | 'accepted'][] = [
    ["the link's own server certificate (control)", (s) => s.mysql.server(), 'accepted'],
    [
      // The ingress keeps the link's CA for clients, so only the egress's check can refuse.
      "another link's server certificate",
      (s) => ({ ...s.pg.server(), 'ca.crt': s.mysql.server()['ca.crt'] }),
      /^egress: handshake failed: UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT_LOCALLY)/,
    ],
    ["the link's own client certificate posing as the server", (s) => s.mysql.client(), /^egress: handshake failed: INVALID_PURPOSE/],
  ];

  it.each(cases)('%s', async (_label, serverSecret, expected) => {
    const { dp } = await twoLinks(serverSecret);
    const payload = randomBytes(64);
    const outcome = await outcomeOf(roundTrip(dp.egressPort, payload), payload);
    if (expected === 'accepted') expectAccepted(dp, outcome);
    else await expectRefusedAt(dp, 'egress', outcome, expected);
  });
});

describe('the data plane pins identities, not only the CA', () => {
  // Leaves of ONE CA that differ only in the identity they carry: the CA check passes, the
  // subjectAltNames pins (Gateway for the client, DestinationRule for the server) must refuse.
  async function credentials() {
    const now = new Date();
    const base = { host: HOST, keyAlgorithm: 'ECDSA-P256' as const, ttlMs: 3_600_000, now };
    const ca = await mintCa({ ...base, link: 'mysql', ttlMs: 7_200_000, generation: 1 });
    const sds = (leaf: CredentialPem): SdsCredential => ({ 'tls.crt': leaf.certificate, 'tls.key': leaf.privateKey, 'ca.crt': ca.certificate });
    return {
      client: sds(await mintLeaf({ ...base, ca, link: 'mysql', side: 'client' })),
      server: sds(await mintLeaf({ ...base, ca, link: 'mysql', side: 'server' })),
      otherClient: sds(await mintLeaf({ ...base, ca, link: 'other', side: 'client' })),
      otherServer: sds(await mintLeaf({ ...base, ca, link: 'other', side: 'server' })),
    };
  }
  type Creds = Awaited<ReturnType<typeof credentials>>;
  const cases: [string, (c: Creds) => { client: SdsCredential; server: SdsCredential }, RegExp | 'accepted'][] = [
    ['both identities right (control)', (c) => ({ client: c.client, server: c.server }), 'accepted'],
    [
      'a client of the same CA with another identity',
      (c) => ({ client: c.otherClient, server: c.server }),
      new RegExp(`^ingress: client identity \\[${escape(sideIdentity(HOST, 'other', 'client'))}, ${escape(HOST)}\\] does not include ${escape(sideIdentity(HOST, 'mysql', 'client'))}$`),
    ],
    [
      'a server of the same CA with another identity',
      (c) => ({ client: c.client, server: c.otherServer }),
      new RegExp(`^egress: handshake failed: ERR_TLS_CERT_ALTNAME_INVALID: .*lack URI ${escape(sideIdentity(HOST, 'mysql', 'server'))}$`),
    ],
  ];

  it.each(cases)('%s', async (_label, pick, expected) => {
    const chosen = pick(await credentials());
    const dp = await plane({ host: HOST, link: 'mysql', clientSecret: () => chosen.client, serverSecret: () => chosen.server });
    const payload = randomBytes(32);
    const outcome = await outcomeOf(roundTrip(dp.egressPort, payload), payload);
    if (expected === 'accepted') {
      expectAccepted(dp, outcome);
    } else {
      expect(outcome).toMatch(/^refused: /);
      expect(await dp.failureMatching(expected)).toMatch(expected);
      expect(dp.stats.handshakesOk).toBe(0);
    }
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

describe('the embedded default on disk (what `npm start` composes)', () => {
  async function localApp(): Promise<{ deps: AppDeps; stateDir: string }> {
    const stateDir = await mkdtemp(join(tmpdir(), 'meshlink-e2e-'));
    dirs.push(stateDir);
    const deps = await composeApp(parseConfig({ MESHLINK_STATE_DIR: stateDir }), { workerId: 'e2e', log: memoryLogger() });
    return { deps, stateDir };
  }

  /** `Kind/name` of every object file under a cluster's directory (the ports patch aside). */
  async function objectsOnDisk(dir: string): Promise<string[]> {
    const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.yaml') && !f.endsWith('.ports-patch.yaml'));
    const objects = await Promise.all(files.map(async (f) => parseYaml(await readFile(join(dir, f), 'utf8')) as { kind: string; metadata: { name: string } }));
    return objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
  }

  it("writes both sides' objects and Secrets under the state dir, and the Secrets are a mutual-TLS pair for the host", async () => {
    const { deps, stateDir } = await localApp();
    const created = await createLink(deps, specInput());
    const names = objectNames('mysql');
    const clientDir = localClusterDir(stateDir, 'client-cluster');
    const serverDir = localClusterDir(stateDir, 'server-cluster');
    expect(await objectsOnDisk(clientDir)).toEqual(
      [
        `DestinationRule/${names.egressDestinationRule}`,
        `DestinationRule/${names.originateDestinationRule}`,
        `Gateway/${names.egressGateway}`,
        `Secret/${credentialName('mysql', 'client')}`,
        `ServiceEntry/${names.serviceEntry}`,
        `VirtualService/${names.egressVirtualService}`,
      ].sort(),
    );
    expect(await objectsOnDisk(serverDir)).toEqual(
      [`Gateway/${names.ingressGateway}`, `Secret/${credentialName('mysql', 'server')}`, `VirtualService/${names.ingressVirtualService}`].sort(),
    );
    for (const [dir, side] of [[clientDir, 'client'], [serverDir, 'server']] as const) {
      const mode = (await stat(join(dir, NAMESPACE, `secret-${credentialName('mysql', side)}.yaml`))).mode & 0o777;
      expect(mode, `${side} Secret file mode`).toBe(0o600);
    }

    const dp = await plane({
      host: HOST,
      link: 'mysql',
      clientSecret: secretFromDirectory(clientDir, NAMESPACE, credentialName('mysql', 'client')),
      serverSecret: secretFromDirectory(serverDir, NAMESPACE, credentialName('mysql', 'server')),
    });
    for (const payload of [randomBytes(100), randomBytes(300 * 1024)]) {
      expect((await roundTrip(dp.egressPort, payload)).equals(payload)).toBe(true);
    }
    expect(dp.stats).toMatchObject({ handshakesOk: 2, handshakeFailures: 0, failures: [] });
    expect([...dp.stats.clientCertificates.keys()]).toEqual([created.client.fingerprint]);
    expect([...dp.stats.serverCertificates.keys()]).toEqual([created.server.fingerprint]);
  });

  it("refuses a certificate from any other CA: another link's client and server, from the same state dir", async () => {
    const { deps, stateDir } = await localApp();
    await createLink(deps, specInput());
    await createLink(deps, withField(specInput({}, 'pg'), 'server.gatewayPort', 15432));
    const secret = (link: string, side: Side) =>
      secretFromDirectory(localClusterDir(stateDir, `${side}-cluster`), NAMESPACE, credentialName(link, side));
    const mysql = { client: secret('mysql', 'client'), server: secret('mysql', 'server') };
    const pg = { client: secret('pg', 'client'), server: secret('pg', 'server') };

    const dp = await plane({ host: HOST, link: 'mysql', clientSecret: mysql.client, serverSecret: mysql.server });
    const foreignClient = clientTlsOptions({ ...(await pg.client()), 'ca.crt': (await mysql.client())['ca.crt'] }, HOST);
    await expect(tlsRoundTrip(dp.ingressPort, foreignClient, randomBytes(16))).rejects.toThrow(/connection ended after 0 of 16 bytes/);
    expect(await dp.failureMatching(/^ingress: /)).toMatch(/client certificate refused: UNABLE_TO_/);

    const foreignServer = await plane({
      host: HOST,
      link: 'mysql',
      clientSecret: mysql.client,
      serverSecret: async () => ({ ...(await pg.server()), 'ca.crt': (await mysql.server())['ca.crt'] }),
    });
    await expect(roundTrip(foreignServer.egressPort, randomBytes(16))).rejects.toThrow(/connection ended after 0 of 16 bytes/);
    expect(await foreignServer.failureMatching(/^egress: /)).toMatch(/handshake failed: UNABLE_TO_/);
    expect(dp.stats.handshakesOk + foreignServer.stats.handshakesOk).toBe(0);
  });
});
