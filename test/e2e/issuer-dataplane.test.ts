// End-to-end: links under an organisation's root (openssl-made at test time) carry bytes through
// the loopback egress and ingress with the root as the only trust anchor, and two links under one
// root stay apart: the identity pins on both sides refuse the other link's certificates.
import { randomBytes, X509Certificate } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handleApiRequest } from '../../functions/http-api.js';
import type { AppDeps } from '../../shared/app/deps.js';
import { credentialName, sideIdentity, type Side } from '../../shared/link/names.js';
import { splitPemBundle } from '../../shared/pki/inspect.js';
import type { SdsCredential } from '../../shared/pki/types.js';
import { testApp } from '../support/app.js';
import { specInput, withField } from '../support/builders.js';
import { clientTlsOptions, roundTrip, secretFromCluster, startDataPlane, tlsRoundTrip, type DataPlane } from '../support/dataplane.js';
import { opensslIntermediate, opensslRoot, pemBundle, type OpensslCa } from '../support/openssl-ca.js';

const HOST = 'mysql.link.example.com';
const planes: DataPlane[] = [];
let root: OpensslCa;
let bundle: string;

beforeAll(() => {
  root = opensslRoot('/O=Example Bank/CN=Example Root CA');
  bundle = pemBundle(opensslIntermediate(root, '/O=Example Bank/CN=Example Mesh CA'), root);
});

afterEach(async () => {
  await Promise.all(planes.splice(0).map((p) => p.close()));
});

async function call(deps: AppDeps, method: string, path: string, contentType: string, body: string) {
  const res = await handleApiRequest(deps, { method, path, contentType, body: Buffer.from(body) });
  return { status: res.status, body: res.body as Record<string, any> };
}

/** Two links under issuer `corp`, and a data plane for mysql whose server presents `serverSecret`. */
async function twoLinksUnderOneRoot(serverSecret?: (pg: Record<Side, () => SdsCredential>) => SdsCredential) {
  // A minute ahead of the openssl certificates, which start the second they are made.
  const app = testApp({ start: new Date(Date.now() + 60_000).toISOString() });
  expect((await call(app.deps, 'PUT', '/issuers/corp', 'application/x-pem-file', bundle)).status).toBe(201);
  const created = [];
  for (const input of [specInput({ issuer: 'corp' }), withField(specInput({ issuer: 'corp' }, 'pg'), 'server.gatewayPort', 15432)]) {
    const res = await call(app.deps, 'POST', '/links', 'application/json', JSON.stringify(input));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    created.push(res.body);
  }
  const secrets = (link: string): Record<Side, () => SdsCredential> => ({
    client: secretFromCluster(app.clusters.target('client-cluster'), 'istio-system', credentialName(link, 'client')),
    server: secretFromCluster(app.clusters.target('server-cluster'), 'istio-system', credentialName(link, 'server')),
  });
  const mysql = secrets('mysql');
  const pg = secrets('pg');
  const dp = await startDataPlane({ host: HOST, link: 'mysql', clientSecret: mysql.client, serverSecret: serverSecret ? () => serverSecret(pg) : mysql.server });
  planes.push(dp);
  return { mysql, pg, dp, status: created[0]! };
}

describe('a link under an organisation root', () => {
  it('carries bytes with the root as the only trust anchor and the chain sent by each side', async () => {
    const { mysql, dp, status } = await twoLinksUnderOneRoot();
    const payload = randomBytes(4096);
    expect((await roundTrip(dp.egressPort, payload)).equals(payload)).toBe(true);
    expect(dp.stats).toMatchObject({ handshakesOk: 1, handshakeFailures: 0, failures: [] });
    const rootFingerprint = new X509Certificate(root.certificate).fingerprint256.replaceAll(':', '').toLowerCase();
    expect(status.issuer).toMatchObject({ name: 'corp', rootFingerprints: [rootFingerprint] });
    for (const side of ['client', 'server'] as const) {
      const secret = mysql[side]();
      expect(splitPemBundle(secret['ca.crt']).map((pem) => new X509Certificate(pem).subject)).toEqual(['O=Example Bank\nCN=Example Root CA']);
      // leaf, link CA, the organisation's issuing CA; never the root.
      expect(splitPemBundle(secret['tls.crt']).map((pem) => /CN=[^\n]*/.exec(new X509Certificate(pem).subject)?.[0])).toEqual(['CN=mysql.link.example.com', 'CN=meshlink mysql CA 1', 'CN=Example Mesh CA']);
    }
  });

  it("link A's gateway refuses link B's client (same root: the pins keep links apart)", async () => {
    const { pg, dp } = await twoLinksUnderOneRoot();
    const payload = randomBytes(64);
    const outcome = await tlsRoundTrip(dp.ingressPort, clientTlsOptions(pg.client(), HOST), payload).then(
      () => 'accepted',
      (err: Error) => `refused: ${err.message}`,
    );
    expect(outcome).toMatch(/^refused/);
    expect(await dp.failureMatching(/^ingress: /)).toMatch(new RegExp(`client identity \\[.*${escape(sideIdentity('pg.link.example.com', 'pg', 'client'))}.*\\] does not include ${escape(sideIdentity(HOST, 'mysql', 'client'))}`));
    expect(dp.stats.handshakesOk).toBe(0);
  });

  it("link A's egress refuses link B's server (same root)", async () => {
    const { dp } = await twoLinksUnderOneRoot((pg) => pg.server());
    const payload = randomBytes(64);
    await roundTrip(dp.egressPort, payload).catch(() => undefined);
    expect(await dp.failureMatching(/^egress: /)).toMatch(/^egress: handshake failed: ERR_TLS_CERT_ALTNAME_INVALID/);
    expect(dp.stats.handshakesOk).toBe(0);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
