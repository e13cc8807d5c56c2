// Minting rules with a fixed clock: back-dating, lifetimes clamped into the CA's, serials,
// name constraints, and what mintCa/mintLeaf refuse.
import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { isMeshlinkError } from '../../shared/errors.js';
import { mintCa, mintLeaf } from '../../shared/pki/mint.js';
import { BACKDATE_MS } from '../../shared/pki/types.js';
import { x509 } from '../../shared/pki/x509.js';
import { withChangedScalar } from '../support/tampered-key.js';
import { caRequest, DAY_MS, HOST, leafRequest, mintLinkSet, NOW } from './fixtures.js';
import { PKCS8_BEGIN, PKCS8_END } from '../support/pem-armour.js';

const { X509Certificate } = x509();

const validity = (pem: string) => {
  const certificate = new X509Certificate(pem);
  return { notBefore: certificate.notBefore.toISOString(), notAfter: certificate.notAfter.toISOString() };
};
const at = (ms: number) => new Date(ms).toISOString();

async function expectCode(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isMeshlinkError(error), String(error)).toBe(true);
  expect(error).toMatchObject({ code });
  if (message) expect((error as Error).message).toMatch(message);
}

describe('lifetimes', () => {
  it('back-dates the CA by BACKDATE_MS (5 minutes) and ends it ttlMs after now', async () => {
    expect(BACKDATE_MS).toBe(5 * 60_000);
    const ca = await mintCa(caRequest({ ttlMs: 90 * DAY_MS }));
    expect(validity(ca.certificate)).toEqual({ notBefore: at(NOW.getTime() - BACKDATE_MS), notAfter: at(NOW.getTime() + 90 * DAY_MS) });
  });

  it.each([
    { name: 'a leaf well inside the CA life', caTtl: 365 * DAY_MS, leafNow: NOW.getTime() + DAY_MS, leafTtl: 30 * DAY_MS, notBefore: NOW.getTime() + DAY_MS - BACKDATE_MS, notAfter: NOW.getTime() + 31 * DAY_MS },
    { name: 'a leaf asking to outlive the CA ends with it', caTtl: 10 * DAY_MS, leafNow: NOW.getTime(), leafTtl: 30 * DAY_MS, notBefore: NOW.getTime() - BACKDATE_MS, notAfter: NOW.getTime() + 10 * DAY_MS },
    { name: 'a leaf minted late in the CA life ends with it', caTtl: 60 * DAY_MS, leafNow: NOW.getTime() + 50 * DAY_MS, leafTtl: 30 * DAY_MS, notBefore: NOW.getTime() + 50 * DAY_MS - BACKDATE_MS, notAfter: NOW.getTime() + 60 * DAY_MS },
    { name: 'a leaf minted before the CA starts starts with it', caTtl: 60 * DAY_MS, leafNow: NOW.getTime() - 60_000, leafTtl: 30 * DAY_MS, notBefore: NOW.getTime() - BACKDATE_MS, notAfter: NOW.getTime() - 60_000 + 30 * DAY_MS },
  ])('$name', async ({ caTtl, leafNow, leafTtl, notBefore, notAfter }) => {
    const ca = await mintCa(caRequest({ ttlMs: caTtl }));
    for (const copy of [ca, { ...ca }]) {
      // The CA object minted here and a copy (as read back from the store) give the same answer.
      const leaf = await mintLeaf(leafRequest(copy, 'server', { now: new Date(leafNow), ttlMs: leafTtl }));
      expect(validity(leaf.certificate)).toEqual({ notBefore: at(notBefore), notAfter: at(notAfter) });
    }
  });

  it('keeps whole seconds, rounding both ends down so a leaf never ends after its CA', async () => {
    const now = new Date(NOW.getTime() + 999);
    const ca = await mintCa(caRequest({ now, ttlMs: 10 * DAY_MS }));
    const leaf = await mintLeaf(leafRequest(ca, 'client', { now, ttlMs: 30 * DAY_MS }));
    expect(validity(ca.certificate)).toEqual({ notBefore: at(NOW.getTime() - BACKDATE_MS), notAfter: at(NOW.getTime() + 10 * DAY_MS) });
    expect(validity(leaf.certificate).notAfter).toBe(validity(ca.certificate).notAfter);
  });

  it('refuses a leaf from a CA that has expired', async () => {
    const ca = await mintCa(caRequest({ ttlMs: DAY_MS }));
    await expectCode(mintLeaf(leafRequest(ca, 'server', { now: new Date(NOW.getTime() + 2 * DAY_MS) })), 'invalid-argument', /expired/);
  });
});

describe('serial numbers', () => {
  it('are random, unique, 128-bit and positive (16 bytes, first byte 0x01-0x7f)', async () => {
    const sets = await Promise.all(Array.from({ length: 10 }, () => mintLinkSet()));
    const serials = sets.flatMap((s) => [s.ca, s.server, s.client]).map((c) => new NodeX509Certificate(c.certificate).serialNumber);
    expect(new Set(serials).size).toBe(30);
    for (const serial of serials) {
      expect(serial).toMatch(/^[0-9A-F]{32}$/);
      expect(parseInt(serial.slice(0, 2), 16)).toBeGreaterThanOrEqual(1);
      expect(parseInt(serial.slice(0, 2), 16)).toBeLessThanOrEqual(0x7f);
    }
  });
});

describe('name constraints', () => {
  it('are critical on the CA and permit exactly the host as DNS name and URI host, no IP address', async () => {
    const ca = await mintCa(caRequest());
    const extension = new X509Certificate(ca.certificate).getExtension('2.5.29.30');
    expect(extension?.critical).toBe(true);
    const value = Buffer.from(extension!.value);
    const host = Buffer.from(HOST, 'ascii');
    // permittedSubtrees [0] { dNSName [2] host, uniformResourceIdentifier [6] host }
    const dnsName = Buffer.concat([Buffer.of(0x82, host.length), host]);
    const uri = Buffer.concat([Buffer.of(0x86, host.length), host]);
    expect(value.indexOf(dnsName)).toBeGreaterThan(0);
    expect(value.indexOf(uri)).toBeGreaterThan(value.indexOf(dnsName));
    // excludedSubtrees [1] { iPAddress 0.0.0.0/0, iPAddress ::/0 }
    expect(value.indexOf(Buffer.concat([Buffer.of(0xa1, 0x30, 0x30, 0x0a, 0x87, 0x08), Buffer.alloc(8), Buffer.of(0x30, 0x22, 0x87, 0x20), Buffer.alloc(32)]))).toBeGreaterThan(0);
  });

  it('are absent from the leaves', async () => {
    const { server } = await mintLinkSet();
    expect(new X509Certificate(server.certificate).getExtension('2.5.29.30')).toBeNull();
  });
});

describe('mintCa refuses', () => {
  it.each([
    { name: 'a zero lifetime', request: caRequest({ ttlMs: 0 }) },
    { name: 'a fractional lifetime', request: caRequest({ ttlMs: 1.5 }) },
    { name: 'an invalid now', request: caRequest({ now: new Date('not a date') }) },
    { name: 'generation 0', request: caRequest({ generation: 0 }) },
    { name: 'an empty host', request: caRequest({ host: '' }) },
  ])('$name', async ({ request }) => {
    await expectCode(mintCa(request), 'invalid-argument');
  });
});

describe('mintLeaf refuses a CA credential', () => {
  it('whose certificate is not PEM', async () => {
    const ca = await mintCa(caRequest());
    await expectCode(mintLeaf(leafRequest({ ...ca, certificate: 'garbage' }, 'server')), 'invalid-argument', /certificate/);
  });

  it('whose key is not PEM, without echoing the key', async () => {
    const ca = await mintCa(caRequest());
    const error = await mintLeaf(leafRequest({ ...ca, privateKey: `${PKCS8_BEGIN}\nc2VjcmV0\n${PKCS8_END}\n` }, 'server')).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'invalid-argument' });
    expect(String((error as Error).message)).not.toContain('c2VjcmV0');
  });

  it('whose key belongs to another CA, even when the same object was minted here and then changed', async () => {
    const ca = await mintCa(caRequest());
    const other = await mintCa(caRequest({ link: 'other' }));
    await expectCode(mintLeaf(leafRequest({ ...ca, privateKey: other.privateKey }, 'server')), 'invalid-argument', /does not match/);
    ca.privateKey = other.privateKey;
    await expectCode(mintLeaf(leafRequest(ca, 'server')), 'invalid-argument', /does not match/);
  });

  it('whose private part was changed, its public part intact (OpenSSL\'s key check alone passes it)', async () => {
    const ca = await mintCa(caRequest());
    await expectCode(mintLeaf(leafRequest({ ...ca, privateKey: withChangedScalar(ca.privateKey) }, 'server')), 'invalid-argument', /does not match/);
  });

  it('that is a leaf, not a CA', async () => {
    const { server } = await mintLinkSet();
    await expectCode(mintLeaf(leafRequest(server, 'client')), 'invalid-argument', /not a CA/);
  });
});

describe('the key check after minting', () => {
  it('throws internal when OpenSSL says the key does not match the certificate', async () => {
    const spy = vi.spyOn(NodeX509Certificate.prototype, 'checkPrivateKey').mockReturnValueOnce(false);
    try {
      await expectCode(mintCa(caRequest()), 'internal');
    } finally {
      spy.mockRestore();
    }
  });
});

describe('a minted certificate is read back before it is handed out', () => {
  // A spec bounds lifetimes (link/spec.ts MAX_TTL_MS); this is the last line should anything else
  // ask for an end date X.509 cannot hold: nothing is returned, so nothing gets stored.
  it.each([
    { case: 'a CA ending after 9999-12-31', req: () => mintCa(caRequest({ ttlMs: 9_999_999 * DAY_MS })) },
    { case: 'a CA minted so late that it would end after 9999-12-31', req: () => mintCa(caRequest({ now: new Date('9999-12-01T00:00:00Z'), ttlMs: 60 * DAY_MS })) },
  ])('refuses $case with invalid-argument naming the end date', async ({ req }) => {
    await expectCode(req(), 'invalid-argument', /notAfter .* after 9999-12-31/);
  });

  it('returns a CA ending on the last encodable second, read back to the second', async () => {
    const now = new Date('9999-12-01T00:00:00Z');
    const ttlMs = Date.UTC(9999, 11, 31, 23, 59, 59) - now.getTime();
    const ca = await mintCa(caRequest({ now, ttlMs }));
    expect(validity(ca.certificate).notAfter).toBe('9999-12-31T23:59:59.000Z');
  });
});
