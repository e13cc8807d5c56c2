// A create reads each certificate it mints with OpenSSL once, where it is minted (the read-back
// before it is handed out), and decodes no private key's PEM (OpenSSL's decoder search, a few
// hundred microseconds each): the CA's signing key is read from its generation's JWK, and the store
// writes take what the mint read (pki/mint.ts mintedSummary) instead of parsing and checking again.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { applyLink } from '../../shared/app/provision.js';
import { specInput } from '../support/builders.js';
import { testApp } from '../support/app.js';

/** OpenSSL certificate parses and PEM (or DER) private key decodings, by node:crypto. */
const reads = vi.hoisted(() => ({ certificates: 0, privateKeys: 0 }));

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  class CountedX509Certificate extends original.X509Certificate {
    constructor(...args: ConstructorParameters<typeof original.X509Certificate>) {
      super(...args);
      reads.certificates++;
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
});

describe('creating a self-signed link', () => {
  it('parses each of its 3 certificates once and decodes no private key PEM', async () => {
    const app = testApp();

    expect((await applyLink(app.deps, specInput())).created).toBe(true);

    expect(reads).toEqual({ certificates: 3, privateKeys: 0 });
  });
});
