// The probe adapter against real TLS ends: a Node tls server in the ingress gateway's role and
// `openssl s_server`, each serving the link's server credential (ok) or a certificate of another CA
// (wrong certificate); a server that refuses our client certificate; a closed port (refused); a TCP
// server that never answers (timeout). Credentials are minted by the app at test time.
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyLink } from '../../shared/app/provision.js';
import { credentialName, sideIdentity } from '../../shared/link/names.js';
import type { SdsCredential } from '../../shared/pki/types.js';
import type { ProbeRequest } from '../../shared/probe/port.js';
import { probeErrorKind, TlsProber } from '../../shared/probe/tls-probe.js';
import { testApp } from '../support/app.js';
import { specInput } from '../support/builders.js';
import { secretFromCluster } from '../support/dataplane.js';
import { partnerPki, type PartnerPki } from '../support/partner-pki.js';
import { closedPort, closeServers, gatewayServer, LOOPBACK, opensslServer, silentServer } from './servers.js';

const HOST = 'mysql.link.example.com';
const NAMESPACE = 'istio-system';
let client: SdsCredential;
let server: SdsCredential;
let serverFingerprint: string;
let serverNotAfter: string;
let stranger: PartnerPki;

beforeAll(async () => {
  // Real time: the TLS stack checks validity against the system clock.
  const app = testApp({ start: new Date().toISOString() });
  const { status } = await applyLink(app.deps, specInput({ server: { cluster: 'server-cluster', service: 'mysql.default.svc.cluster.local', port: 3306, address: LOOPBACK } }));
  client = secretFromCluster(app.clusters.target('client-cluster'), NAMESPACE, credentialName('mysql', 'client'))();
  server = secretFromCluster(app.clusters.target('server-cluster'), NAMESPACE, credentialName('mysql', 'server'))();
  serverFingerprint = status.server.fingerprint!;
  serverNotAfter = status.server.notAfter!;
  stranger = partnerPki({ cn: 'Stranger CA' });
});
afterAll(() => stranger.remove());
afterEach(closeServers);

function request(port: number, overrides: Partial<ProbeRequest> = {}): ProbeRequest {
  return { address: LOOPBACK, port, servername: HOST, credential: client, subjectAltNames: [sideIdentity(HOST, 'mysql', 'server')], timeoutMs: 5_000, ...overrides };
}

/** A leaf of another CA carrying the link's own server identity and host: only the CA is wrong. */
function strangerServer(): { cert: string; key: string } {
  const leaf = stranger.leaf('impostor', [`DNS:${HOST}`, `URI:${sideIdentity(HOST, 'mysql', 'server')}`]);
  return { cert: leaf.pem, key: readFileSync(leaf.key, 'utf8') };
}

describe('TlsProber', () => {
  it('a Node tls server serving the server Secret: ok, with the served leaf read from the handshake', async () => {
    const result = await new TlsProber().probe(request(await gatewayServer(server)));
    expect(result).toMatchObject({ ok: true, served: { fingerprint: serverFingerprint, notAfter: serverNotAfter } });
    expect(result.error).toBeUndefined();
    expect(result.served!.subjectAltNames).toEqual(expect.arrayContaining([HOST, sideIdentity(HOST, 'mysql', 'server')]));
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('latency is measured on the clock it is given', async () => {
    let t = 1_000;
    const result = await new TlsProber({ now: () => (t += 7) }).probe(request(await gatewayServer(server)));
    expect(result.latencyMs).toBe(7);
  });

  it('openssl s_server serving the server Secret and verifying our client certificate: ok', async () => {
    const port = await opensslServer({ cert: server['tls.crt'], key: server['tls.key'], ca: server['ca.crt'] });
    expect(await new TlsProber().probe(request(port))).toMatchObject({ ok: true, served: { fingerprint: serverFingerprint } });
  });

  it('openssl s_server serving a certificate of another CA: wrong certificate, and that certificate recorded', async () => {
    const impostor = strangerServer();
    const port = await opensslServer({ ...impostor, ca: server['ca.crt'] });
    const result = await new TlsProber().probe(request(port));
    expect(result).toMatchObject({ ok: false, error: { kind: 'wrong-certificate' } });
    expect(result.error!.message).toMatch(/does not verify against the link's trust/);
    expect(result.served!.fingerprint).not.toBe(serverFingerprint);
    expect(result.served!.subject).toMatch(/impostor/);
  });

  it('a certificate of the right CA without the pinned identity: wrong certificate', async () => {
    const result = await new TlsProber().probe(request(await gatewayServer(server), { subjectAltNames: ['spiffe://elsewhere/x'] }));
    expect(result).toMatchObject({ ok: false, error: { kind: 'wrong-certificate' }, served: { fingerprint: serverFingerprint } });
    expect(result.error!.message).toMatch(/hold none of spiffe:\/\/elsewhere\/x/);
  });

  it('a server that refuses our client certificate (it trusts another CA): a handshake error after the served leaf was read', async () => {
    const port = await gatewayServer({ ...server, 'ca.crt': stranger.ca.pem });
    const result = await new TlsProber().probe(request(port));
    expect(result).toMatchObject({ ok: false, error: { kind: 'handshake' }, served: { fingerprint: serverFingerprint } });
    expect(result.error!.message).toMatch(/refused the client certificate/);
  });

  it('a closed port: refused', async () => {
    expect(await new TlsProber().probe(request(await closedPort()))).toMatchObject({ ok: false, error: { kind: 'refused' } });
  });

  it('a TCP server that never answers the handshake: timeout after the given limit', async () => {
    const result = await new TlsProber().probe(request(await silentServer(), { timeoutMs: 200 }));
    expect(result).toMatchObject({ ok: false, error: { kind: 'timeout', message: 'no handshake within 200 ms' } });
    expect(result.served).toBeUndefined();
  });

  it('no result holds key material', async () => {
    const results = [await new TlsProber().probe(request(await gatewayServer(server))), await new TlsProber().probe(request(await closedPort()))];
    expect(JSON.stringify(results)).not.toMatch(/PRIVATE KEY/);
  });
});

describe('probeErrorKind', () => {
  it.each([
    ['ECONNREFUSED', 'refused'],
    ['ETIMEDOUT', 'timeout'],
    ['ENOTFOUND', 'unreachable'],
    ['EHOSTUNREACH', 'unreachable'],
    ['ECONNRESET', 'handshake'],
    ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'handshake'],
  ])('%s is %s', (code, kind) => {
    expect(probeErrorKind(Object.assign(new Error('x'), { code }))).toBe(kind);
  });
});
