// Rotation of a link under an organisation's issuer: rotated leaves keep the chain up to the root,
// the link CA never outlives the issuing chain, and its rollover comes before that end, every
// handshake verifying (through the chain, dates included) after every single write.
import { beforeAll, describe, expect, it } from 'vitest';
import { handleApiRequest } from '../../functions/http-api.js';
import { getLink } from '../../shared/app/queries.js';
import { splitPemBundle } from '../../shared/pki/inspect.js';
import { certificateFacts } from '../../shared/pki/issuer-bundle.js';
import { clusterCredential } from '../support/cluster-trust.js';
import { opensslIntermediate, opensslRoot, pemBundle } from '../support/openssl-ca.js';
import { rotationApp, type RotationApp } from '../support/rotation-app.js';

let bundle: string;
let renewed: string;
let issuingNotAfter: Date;

beforeAll(() => {
  const root = opensslRoot('/CN=Bank Root');
  const issuing = opensslIntermediate(root, '/CN=Bank Mesh CA', { days: 60 });
  bundle = pemBundle(issuing, root);
  renewed = pemBundle(opensslIntermediate(root, '/CN=Bank Mesh CA 2', { days: 1000 }), root);
  issuingNotAfter = new Date(certificateFacts(issuing.certificate).notAfter);
});

async function linkUnderIssuer(): Promise<RotationApp> {
  const app = rotationApp({ start: new Date(Date.now() + 60_000).toISOString(), handshakes: true });
  const put = await handleApiRequest(app.deps, { method: 'PUT', path: '/issuers/corp', contentType: 'application/x-pem-file', body: Buffer.from(bundle) });
  expect(put.status).toBe(201);
  await app.create({ issuer: 'corp' });
  app.violations.length = 0; // creation writes one side's Secret before the other's
  return app;
}

function presentedChain(app: RotationApp, side: 'client' | 'server'): number {
  return splitPemBundle(clusterCredential(app.clusters, 'mysql', side)!['tls.crt']).length;
}

describe('a link under an issuer', () => {
  it('gets a CA that ends with the issuing chain, renewed before that end', async () => {
    const app = await linkUnderIssuer();
    const status = await getLink(app.deps, 'mysql');
    expect(Date.parse(status.ca[0]!.notAfter)).toBe(issuingNotAfter.getTime());
    expect(Date.parse(status.ca[0]!.renewAt)).toBeLessThan(issuingNotAfter.getTime());
    expect(Date.parse(status.client.notAfter!)).toBeLessThanOrEqual(issuingNotAfter.getTime());
  });

  it('rotates its leaves with the chain kept: leaf, link CA, issuing CA', async () => {
    const app = await linkUnderIssuer();
    const first = (await app.state()).leaves.client!.version;
    await app.drive((s) => s.leaves.client!.version !== first && s.leaves.server!.version !== first && s.phase === 'stable');
    expect(presentedChain(app, 'client')).toBe(3);
    expect(presentedChain(app, 'server')).toBe(3);
    expect(app.violations).toEqual([]);
  });

  it('rolls its CA over under the same issuer before the chain ends, every handshake verifying', async () => {
    const app = await linkUnderIssuer();
    await app.drive((s) => s.signingGeneration === 2 && s.phase === 'stable' && s.cas.length === 1);
    const state = await app.state();
    expect(Date.parse(state.cas[0]!.notAfter)).toBeLessThanOrEqual(issuingNotAfter.getTime());
    expect(app.clock().getTime()).toBeLessThan(issuingNotAfter.getTime());
    expect(presentedChain(app, 'server')).toBe(3);
    expect(app.violations).toEqual([]);
  });

  it('says in its status that the issuing chain ends before a link CA would; a renewed issuing CA (same root) is taken at once, leaves within it', async () => {
    const app = await linkUnderIssuer();
    const status = await getLink(app.deps, 'mysql');
    expect(status.issuer).toMatchObject({ name: 'corp', chainNotAfter: issuingNotAfter.toISOString(), warning: expect.stringMatching(/^the issuing chain of issuer corp ends at .* \(in \d+ days\), before a link CA minted now would/) });
    const put = await handleApiRequest(app.deps, { method: 'PUT', path: '/issuers/corp', contentType: 'application/x-pem-file', body: Buffer.from(renewed) });
    expect(put.status).toBe(200);
    await app.drive((s) => s.signingGeneration === 2 && s.phase === 'stable' && s.cas.length === 1);
    const after = await getLink(app.deps, 'mysql');
    expect(after.issuer?.warning).toBeUndefined();
    // The new link CA outlives the old chain; every leaf ends within its own chain.
    expect(Date.parse(after.ca[0]!.notAfter)).toBeGreaterThan(issuingNotAfter.getTime());
    for (const side of ['client', 'server'] as const) {
      const chain = splitPemBundle(clusterCredential(app.clusters, 'mysql', side)!['tls.crt']).map((pem) => Date.parse(certificateFacts(pem).notAfter));
      expect(chain[0]!).toBeLessThanOrEqual(Math.min(...chain.slice(1)));
    }
    expect(app.violations).toEqual([]);
  });
});
