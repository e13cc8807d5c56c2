// The loopback data plane itself: SDS-like reloads (new handshakes read the current Secret, open
// connections keep theirs), missing Secrets, and the traffic generator the rotation tests use.
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { parseLinkSpec } from '../../shared/link/spec.js';
import { credentialName } from '../../shared/link/names.js';
import { renderCredentialSecret } from '../../shared/mesh/render.js';
import { mintCa, mintLeaf } from '../../shared/pki/mint.js';
import type { CredentialPem, SdsCredential } from '../../shared/pki/types.js';
import { specInput } from '../support/builders.js';
import { MemoryCluster } from '../support/memory-clusters.js';
import {
  manualSds,
  openConnection,
  roundTrip,
  runTraffic,
  secretFromCluster,
  startDataPlane,
  until,
  type DataPlane,
  type DataPlaneOptions,
} from '../support/dataplane.js';

const HOST = 'mysql.link.example.com';
const NAMESPACE = 'istio-system';

const planes: DataPlane[] = [];
afterEach(async () => {
  await Promise.all(planes.splice(0).map((p) => p.close()));
});

async function plane(opts: Omit<DataPlaneOptions, 'host' | 'link'>): Promise<DataPlane> {
  const p = await startDataPlane({ host: HOST, link: 'mysql', ...opts });
  planes.push(p);
  return p;
}

type Pair = { client: SdsCredential; server: SdsCredential };
const base = () => ({ link: 'mysql', host: HOST, keyAlgorithm: 'ECDSA-P256' as const, now: new Date() });

/** Both leaves of a link signed by `ca`, as SDS credentials trusting `ca`. */
async function leaves(ca: CredentialPem): Promise<Pair> {
  const leaf = async (side: 'client' | 'server'): Promise<SdsCredential> => {
    const l = await mintLeaf({ ...base(), ca, side, ttlMs: 3_600_000 });
    return { 'tls.crt': l.certificate, 'tls.key': l.privateKey, 'ca.crt': ca.certificate };
  };
  return { client: await leaf('client'), server: await leaf('server') };
}

/** A new link CA generation and both its leaves. */
async function pair(generation: number): Promise<Pair> {
  return leaves(await mintCa({ ...base(), ttlMs: 7_200_000, generation }));
}

/** SHA-256 of the certificate's DER, computed here rather than trusted from the plane. */
function fingerprintOf(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

async function echoes(port: number, bytes = 256): Promise<boolean> {
  const payload = randomBytes(bytes);
  return (await roundTrip(port, payload)).equals(payload);
}

describe('Secret reloads, as SDS does them', () => {
  it('uses the current Secrets for new handshakes while an open connection keeps its own', async () => {
    const [a, b] = [await pair(1), await pair(2)];
    let current = a;
    const dp = await plane({ clientSecret: () => current.client, serverSecret: () => current.server });
    const open = await openConnection(dp.egressPort);
    expect((await open.exchange(Buffer.from('before'))).toString()).toBe('before');

    current = b; // both Secrets replaced by a new CA generation
    expect(await echoes(dp.egressPort)).toBe(true);
    expect((await open.exchange(Buffer.from('after'))).toString()).toBe('after');
    await open.close();

    expect(dp.stats.clientCertificates).toEqual(new Map([[fingerprintOf(a.client['tls.crt']), 1], [fingerprintOf(b.client['tls.crt']), 1]]));
    expect(dp.stats.serverCertificates).toEqual(new Map([[fingerprintOf(a.server['tls.crt']), 1], [fingerprintOf(b.server['tls.crt']), 1]]));
    expect(dp.stats).toMatchObject({ handshakesOk: 2, handshakeFailures: 0, failures: [] });
  });

  it('refuses new handshakes while only one side has the new CA, and recovers when the other catches up', async () => {
    const [a, b] = [await pair(1), await pair(2)];
    let current = a;
    const client = await manualSds(() => current.client);
    const dp = await plane({ clientSecret: client, serverSecret: () => current.server });
    const open = await openConnection(dp.egressPort);
    expect((await open.exchange(Buffer.from('before'))).toString()).toBe('before'); // its handshake is done

    current = b; // the server gateway sees the new Secret at once, the client's push lags
    await expect(roundTrip(dp.egressPort, randomBytes(16))).rejects.toThrow(/connection ended after 0 of 16 bytes/);
    expect(await dp.failureMatching(/^egress: /)).toMatch(/^egress: handshake failed: UNABLE_TO_/);
    expect((await open.exchange(Buffer.from('still here'))).toString()).toBe('still here');

    await client.push();
    expect(await echoes(dp.egressPort)).toBe(true);
    await open.close();
  });

  it.each([
    ['client', /^egress: client Secret unreadable: client-cluster\/istio-system\/meshlink-mysql-client: no Secret/],
    ['server', /^ingress: handshake refused \(SNI "mysql\.link\.example\.com"\): server Secret unreadable: server-cluster\/istio-system\/meshlink-mysql-server: no Secret/],
  ] as const)('records a missing %s Secret (a rebuilt cluster) and serves again once it is written', async (side, reason) => {
    const creds = await pair(1);
    const spec = parseLinkSpec(specInput());
    const clusters = { client: new MemoryCluster('client-cluster'), server: new MemoryCluster('server-cluster') };
    for (const s of ['client', 'server'] as const) {
      if (s !== side) await clusters[s].apply([renderCredentialSecret(spec, s, creds[s], `test/${s}/1`)]);
    }
    const dp = await plane({
      clientSecret: secretFromCluster(clusters.client, NAMESPACE, credentialName('mysql', 'client')),
      serverSecret: secretFromCluster(clusters.server, NAMESPACE, credentialName('mysql', 'server')),
    });
    await expect(roundTrip(dp.egressPort, randomBytes(16))).rejects.toThrow(/connection ended after 0 of 16 bytes/);
    expect(await dp.failureMatching(reason)).toMatch(reason);

    await clusters[side].apply([renderCredentialSecret(spec, side, creds[side], `test/${side}/1`)]);
    expect(await echoes(dp.egressPort)).toBe(true);
    expect(dp.stats.handshakesOk).toBe(1);
  });
});

describe('runTraffic', () => {
  // A leaf rotation under one CA: each side's Secret changes on its own, and any mix of old and
  // new leaves is a valid pair. (Swapping the CA too would break handshakes in flight, whose two
  // ends read their Secrets at different moments: that is why a CA rollover goes through a
  // ca.crt bundle holding both CAs.)
  it('dials new connections continuously and counts every round trip across a leaf rotation', async () => {
    const ca = await mintCa({ ...base(), ttlMs: 7_200_000, generation: 1 });
    const [a, b] = [await leaves(ca), await leaves(ca)];
    let current = a;
    const dp = await plane({ clientSecret: () => current.client, serverSecret: () => current.server });
    const traffic = runTraffic(dp, { everyMs: 2, payloadBytes: 2048 });
    await until(() => traffic.progress().ok >= 10, '10 round trips');
    current = b;
    const okBefore = traffic.progress().ok;
    await until(() => traffic.progress().ok >= okBefore + 10, '10 more round trips');
    const report = await traffic.stop();

    expect(report).toMatchObject({ failed: 0, failures: [], planeFailures: [] });
    expect(report.ok).toBe(report.attempted);
    expect(report.handshakesOk).toBe(report.attempted);
    expect([...dp.stats.clientCertificates.keys()].sort()).toEqual([fingerprintOf(a.client['tls.crt']), fingerprintOf(b.client['tls.crt'])].sort());
  });

  it('counts failed round trips with the reasons the plane recorded', async () => {
    const [a, b] = [await pair(1), await pair(2)];
    // A client certificate of another CA, trusting the right server: the ingress refuses it.
    const dp = await plane({ clientSecret: () => ({ ...b.client, 'ca.crt': a.client['ca.crt'] }), serverSecret: () => a.server });
    const traffic = runTraffic(dp, { everyMs: 2, payloadBytes: 64 });
    await until(() => traffic.progress().failed >= 3, '3 failed round trips');
    const report = await traffic.stop();

    expect(report.ok).toBe(0);
    expect(report.failed).toBe(report.attempted);
    expect(report.failures.every((f) => /^connection ended after 0 of 64 bytes/.test(f))).toBe(true);
    expect(report.planeFailures.filter((f) => f.startsWith('ingress: ')).length).toBeGreaterThanOrEqual(1);
    expect(report.planeFailures.find((f) => f.startsWith('ingress: '))).toMatch(/client certificate refused: UNABLE_TO_/);
    expect(dp.stats.handshakeFailures).toBeGreaterThanOrEqual(report.failed);
  });
});
