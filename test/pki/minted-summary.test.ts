// mintedSummary: what the mint read back of a credential it returned, for that very credential
// only: a copy, a changed one or any other certificate is the caller's to read and check.
import { describe, expect, it } from 'vitest';
import { inspectCertificate } from '../../shared/pki/inspect.js';
import { mintedSummary } from '../../shared/pki/mint.js';
import type { CertificateSummary } from '../../shared/pki/types.js';
import { mintLinkSet } from './fixtures.js';

const facts = (s: CertificateSummary) => ({ ...s, serialNumber: s.serialNumber, subject: s.subject, issuer: s.issuer });

describe('mintedSummary', () => {
  it('gives each minted credential the summary inspectCertificate reads of it', async () => {
    const set = await mintLinkSet();
    for (const credential of [set.ca, set.server, set.client]) {
      expect(facts(mintedSummary(credential)!)).toEqual(facts(inspectCertificate(credential.certificate)));
    }
  });

  it('knows nothing of a copy, of a credential whose key or certificate was changed, or of one it did not mint', async () => {
    const set = await mintLinkSet();
    const other = await mintLinkSet();
    expect(mintedSummary({ ...set.server })).toBeUndefined();
    expect(mintedSummary({ certificate: set.server.certificate })).toBeUndefined();
    const swappedKey = set.client;
    swappedKey.privateKey = other.client.privateKey;
    expect(mintedSummary(swappedKey)).toBeUndefined();
    const swappedCertificate = set.ca;
    swappedCertificate.certificate = other.ca.certificate;
    expect(mintedSummary(swappedCertificate)).toBeUndefined();
  });
});
