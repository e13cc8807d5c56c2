// The organisation's issuer bundle: what is accepted, and each way a bundle is refused, with
// openssl-made roots and intermediates.
import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { isMeshlinkError } from '../../shared/errors.js';
import { certificateFacts, parseIssuerBundle } from '../../shared/pki/issuer-bundle.js';
import { joinPemBundle } from '../../shared/pki/inspect.js';
import { opensslIntermediate, opensslRoot, pemBundle, type OpensslCa } from '../support/openssl-ca.js';
import { withChangedScalar } from '../support/tampered-key.js';

/** A minute ahead: openssl's certificates start the second they are made. */
const NOW = new Date(Date.now() + 60_000);
const DAY = 86_400_000;
let root: OpensslCa;
let intermediate: OpensslCa;
let otherRoot: OpensslCa;

beforeAll(() => {
  root = opensslRoot('/O=Example Bank/CN=Example Root CA');
  intermediate = opensslIntermediate(root, '/O=Example Bank/CN=Example Mesh CA', { basicConstraints: 'critical,CA:TRUE,pathlen:1' });
  otherRoot = opensslRoot('/CN=Other Root');
});

const pemOf = (ca: OpensslCa) => joinPemBundle([ca.certificate]);

function refusal(text: string, now = NOW): string {
  try {
    parseIssuerBundle(text, now);
  } catch (err) {
    if (isMeshlinkError(err, 'invalid-argument')) {
      expect(err.details[0]?.path).toBe('bundle');
      expect(JSON.stringify({ message: err.message, details: err.details })).not.toMatch(/PRIVATE KEY-----|BEGIN/);
      return err.details[0]!.message;
    }
    throw err;
  }
  throw new Error('bundle was accepted');
}

describe('parseIssuerBundle', () => {
  it('splits key + intermediate + root into the issuing CA, the chain without the root, and the root', () => {
    const bundle = parseIssuerBundle(pemBundle(intermediate, root), NOW);
    expect(certificateFacts(bundle.issuing.certificate).subject).toContain('CN=Example Mesh CA');
    expect(bundle.issuing.privateKey).toMatch(new RegExp(`^-----BEGIN ${'PRIVATE'} KEY-----`));
    expect(bundle.chain).toBe(bundle.issuing.certificate);
    expect(certificateFacts(bundle.root).subject).toContain('CN=Example Root CA');
    expect(bundle.notAfter.getTime()).toBe(new Date(certificateFacts(intermediate.certificate).notAfter).getTime());
  });

  it('accepts the blocks in any order, and the root itself as issuing CA', () => {
    expect(certificateFacts(parseIssuerBundle(root.certificate + intermediate.certificate + intermediate.privateKey, NOW).root).subject).toContain('Root');
    const self = parseIssuerBundle(pemBundle(root), NOW);
    expect(self.root).toBe(self.issuing.certificate);
    expect(self.chain).toBe('');
  });

  it('keeps the certificates between the issuing CA and the root as the chain', () => {
    const middle = opensslIntermediate(root, '/CN=Policy CA');
    const issuing = opensslIntermediate(middle, '/CN=Issuing CA', { basicConstraints: 'critical,CA:TRUE,pathlen:1' });
    const bundle = parseIssuerBundle(pemBundle(issuing, middle, root), NOW);
    expect(bundle.chain).toBe(bundle.issuing.certificate + pemOf(middle));
    // pathLen counts the link CA too: a CA above the issuing one with pathLen 1 leaves no room.
    expect(refusal(pemBundle(opensslIntermediate(intermediate, '/CN=Issuing CA'), intermediate, root))).toMatch(/Example Mesh CA has pathLen 1/);
  });

  it.each([
    ['not PEM', () => 'hello', /not PEM/],
    ['no key', () => intermediate.certificate + root.certificate, /no private key/],
    ['two keys', () => pemBundle(intermediate, root) + root.privateKey, /2 private keys/],
    ['a key that matches no certificate', () => otherRoot.privateKey + intermediate.certificate + root.certificate, /matches no certificate/],
    // OpenSSL's check compares the public key the key file carries: a changed private scalar passes it.
    ['a key whose private part was changed (its public part intact)', () => pemBundle({ ...intermediate, privateKey: withChangedScalar(intermediate.privateKey) }, root), /does not sign for/],
    ['a chain that does not link up (root missing)', () => pemBundle(intermediate), /does not link up/],
    ['a chain that does not link up (another root)', () => pemBundle(intermediate, otherRoot), /does not link up/],
    ['a certificate outside the chain', () => pemBundle(intermediate, root, otherRoot), /not part of the chain/],
    ['an issuing certificate that is no CA', () => pemBundle(opensslIntermediate(root, '/CN=Not a CA', { basicConstraints: 'CA:FALSE' }), root), /not a CA/],
    ['an issuing CA with pathLen 0 (no room for a link CA)', () => pemBundle(opensslIntermediate(root, '/CN=Leaf CA', { basicConstraints: 'critical,CA:TRUE,pathlen:0' }), root), /pathLen 0/],
    ['a malformed block', () => '-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n' + pemBundle(intermediate, root), /malformed|not a readable/],
  ])('refuses %s', (_what, make, message) => {
    expect(refusal(make())).toMatch(message);
  });

  it('refuses a CA that has expired or is not valid yet (time is a parameter)', () => {
    const text = pemBundle(intermediate, root);
    expect(refusal(text, new Date(NOW.getTime() + 2000 * DAY))).toMatch(/Example Mesh CA has expired/);
    expect(refusal(text, new Date(NOW.getTime() - 2 * DAY))).toMatch(/not valid yet/);
  });

  it('refuses an encrypted key', () => {
    // A real encrypted key, made now (no key material is committed).
    const encrypted = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'test' } }).privateKey;
    expect(refusal(encrypted + intermediate.certificate + root.certificate)).toMatch(/encrypted/);
  });
});
