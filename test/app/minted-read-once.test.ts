// A create reads each certificate it mints with OpenSSL once, where it is minted (the read-back
// before it is handed out), and decodes no private key's PEM (OpenSSL's decoder search, a few
// hundred microseconds each): the CA's signing key is read from its generation's JWK, and the store
// writes take what the mint read (pki/mint.ts mintedSummary) instead of parsing and checking again,
// under an issuer too (the link CA kept as the object minted, not a copy).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { putIssuerBundle } from '../../shared/app/issuers.js';
import { applyLink } from '../../shared/app/provision.js';
import { opensslIntermediate, opensslRoot, pemBundle } from '../support/openssl-ca.js';
import { specInput } from '../support/builders.js';
import { testApp } from '../support/app.js';

/** OpenSSL certificate parses, PEM (or DER) private key decodings and key checks, by node:crypto. */
const reads = vi.hoisted(() => ({ certificates: 0, privateKeys: 0, keyChecks: 0 }));

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  class CountedX509Certificate extends original.X509Certificate {
    constructor(...args: ConstructorParameters<typeof original.X509Certificate>) {
      super(...args);
      reads.certificates++;
    }
    override checkPrivateKey(key: import('node:crypto').KeyObject): boolean {
      reads.keyChecks++;
      return super.checkPrivateKey(key);
    }
  }
  const createPrivateKey: typeof original.createPrivateKey = (key) => {
    if (typeof key === 'string' || Buffer.isBuffer(key) || key.format !== 'jwk') reads.privateKeys++;
    return original.createPrivateKey(key);
  };
  const mocked = { ...original, X509Certificate: CountedX509Certificate, createPrivateKey };
  return { ...mocked, default: mocked };
});

afterEach(() => {
  reads.certificates = 0;
  reads.privateKeys = 0;
  reads.keyChecks = 0;
});

describe('creating a self-signed link', () => {
  it("parses each of its 3 certificates once, checks each against its key with OpenSSL's own check, and decodes no private key PEM", async () => {
    const app = testApp();

    expect((await applyLink(app.deps, specInput())).created).toBe(true);

    expect(reads).toEqual({ certificates: 3, privateKeys: 0, keyChecks: 3 });
  });
});

describe('creating a link under an issuer', () => {
  it("decodes the issuing CA's key and no other, and parses its link CA once: the leaves are signed by the CA it minted, not a copy read again", async () => {
    // 6 parses: the 3 certificates it mints, the issuing CA as a signer, and the bundle's root and
    // issuing CA for the CA's record (their fingerprints).
    const app = testApp({ start: new Date().toISOString() });
    const root = opensslRoot('/CN=Read Once Root');
    await putIssuerBundle(app.deps, 'corp', pemBundle(opensslIntermediate(root, '/CN=Read Once Mesh CA'), root));
    const before = { ...reads };

    expect((await applyLink(app.deps, specInput({ issuer: 'corp' }))).created).toBe(true);

    expect({ certificates: reads.certificates - before.certificates, privateKeys: reads.privateKeys - before.privateKeys }).toEqual({ certificates: 6, privateKeys: 1 });
  });
});
