// Minting: a link's self-signed, name-constrained CA and the server and client leaves it signs.
import { createHash, KeyObject, randomBytes, webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { MeshlinkError } from '../errors.js';
import { sideIdentity } from '../link/names.js';
import type { KeyAlgorithm } from '../link/spec.js';
import { derTlv, spkiPublicKeyBits } from './der.js';
import { ALGORITHMS, generateKeyPair, loadSigningKey } from './keys.js';
import { encodePem } from './pem.js';
import type { CredentialPem, MintCaRequest, MintLeafRequest } from './types.js';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  Extension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Name,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
} from './x509.js';

/** Certificates start this long before `now`, so peers whose clocks lag still accept them. */
export const BACKDATE_MS = 5 * 60_000;

const OID_NAME_CONSTRAINTS = '2.5.29.30';

/** What signing a leaf needs from a CA credential, parsed once per credential object. */
interface Issuer {
  certificate: string;
  privateKey: string;
  name: Name;
  keyId: string;
  notBefore: Date;
  notAfter: Date;
  signingKey: webcrypto.CryptoKey;
  algorithm: KeyAlgorithm;
}

// Keyed by the caller's credential object: a CA minted here, or read once from the store, signs
// both leaves of a link without parsing its PEM key twice (OpenSSL's PEM decoding dominates the
// cost of a leaf otherwise). Entries go with the object; no key outlives what the caller holds.
const issuers = new WeakMap<CredentialPem, Issuer>();

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits, hex. */
function keyIdentifier(spki: Uint8Array): string {
  return createHash('sha1').update(spkiPublicKeyBits(spki)).digest('hex');
}

/** 128 random bits as a positive DER INTEGER of exactly 16 bytes (high bit clear, first byte non-zero). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) || 1;
  return bytes.toString('hex');
}

/**
 * Name constraints of a link CA: only `host` (and names under it) as DNS name, only URIs whose
 * host is `host`, and no IP address at all (excluding 0.0.0.0/0 and ::/0), so even a leaked CA
 * key cannot vouch for anything outside the link.
 */
function nameConstraints(host: string): Extension {
  const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'ascii'));
  const subtree = (generalName: Uint8Array) => derTlv(0x30, generalName);
  const permitted = derTlv(0xa0, subtree(derTlv(0x82, ascii(host))), subtree(derTlv(0x86, ascii(host))));
  const excluded = derTlv(0xa1, subtree(derTlv(0x87, new Uint8Array(8))), subtree(derTlv(0x87, new Uint8Array(32))));
  return new Extension(OID_NAME_CONSTRAINTS, true, new Uint8Array(derTlv(0x30, permitted, excluded)) as Uint8Array<ArrayBuffer>);
}

function requireValid(req: { ttlMs: number; now: Date; link: string; host: string }): void {
  if (!(req.now instanceof Date) || Number.isNaN(req.now.getTime())) throw new MeshlinkError('invalid-argument', 'now must be a valid date');
  if (!Number.isSafeInteger(req.ttlMs) || req.ttlMs <= 0) throw new MeshlinkError('invalid-argument', 'ttlMs must be a positive whole number');
  if (req.link === '' || req.host === '') throw new MeshlinkError('invalid-argument', 'link and host are required');
}

interface Issue {
  subject: Name;
  /** Undefined for a self-signed certificate. */
  issuer?: Issuer;
  keyAlgorithm: KeyAlgorithm;
  notBefore: Date;
  notAfter: Date;
  extensions: (keyId: string) => Extension[];
}

/** Generates a key pair, builds and signs its certificate, and checks the pair before handing it out. */
async function issue(spec: Issue): Promise<{ credential: CredentialPem; certificate: X509Certificate; keyId: string; keys: webcrypto.CryptoKeyPair }> {
  const keys = await generateKeyPair(spec.keyAlgorithm);
  const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  const keyId = keyIdentifier(spki);
  const signer = spec.issuer ?? { name: spec.subject, signingKey: keys.privateKey, algorithm: spec.keyAlgorithm };
  const certificate = await X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: spec.subject,
    issuer: signer.name,
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
    publicKey: spki,
    signingKey: signer.signingKey,
    signingAlgorithm: ALGORITHMS[signer.algorithm].sign,
    extensions: spec.extensions(keyId),
  });
  const certificatePem = encodePem(new Uint8Array(certificate.rawData), 'CERTIFICATE');
  const privateKey = KeyObject.from(keys.privateKey);
  // Read back by OpenSSL, not the library that wrote it: a mismatch here is a bug, never shipped.
  if (!new NodeX509Certificate(certificatePem).checkPrivateKey(privateKey)) {
    throw new MeshlinkError('internal', 'minted certificate does not match its private key');
  }
  const credential = { certificate: certificatePem, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
  return { credential, certificate, keyId, keys };
}

/** Mints the self-signed CA of a link (generation 1, 2, ... across rollovers). */
export async function mintCa(req: MintCaRequest): Promise<CredentialPem> {
  requireValid(req);
  if (!Number.isSafeInteger(req.generation) || req.generation < 1) throw new MeshlinkError('invalid-argument', 'generation must be a whole number from 1');
  const now = req.now.getTime();
  const notBefore = new Date(now - BACKDATE_MS);
  const notAfter = new Date(now + req.ttlMs);
  const subject = new Name(`CN=meshlink ${req.link} CA ${req.generation}, O=meshlink`);
  const { credential, certificate, keyId, keys } = await issue({
    subject,
    keyAlgorithm: req.keyAlgorithm,
    notBefore,
    notAfter,
    extensions: (id) => [
      new BasicConstraintsExtension(true, 0, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
      new SubjectKeyIdentifierExtension(id),
      nameConstraints(req.host),
    ],
  });
  issuers.set(credential, {
    ...credential,
    name: subject,
    keyId,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    signingKey: keys.privateKey,
    algorithm: req.keyAlgorithm,
  });
  return credential;
}

async function issuerOf(ca: CredentialPem): Promise<Issuer> {
  const known = issuers.get(ca);
  if (known && known.certificate === ca.certificate && known.privateKey === ca.privateKey) return known;
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(ca.certificate);
  } catch (cause) {
    throw new MeshlinkError('invalid-argument', 'CA certificate is not a readable PEM certificate', { cause });
  }
  if (!certificate.getExtension(BasicConstraintsExtension)?.ca) throw new MeshlinkError('invalid-argument', 'CA certificate is not a CA');
  const { key, signingKey, algorithm } = await loadSigningKey(ca.privateKey);
  if (!new NodeX509Certificate(ca.certificate).checkPrivateKey(key)) {
    throw new MeshlinkError('invalid-argument', 'CA private key does not match the CA certificate');
  }
  const keyId = certificate.getExtension(SubjectKeyIdentifierExtension)?.keyId ?? keyIdentifier(new Uint8Array(certificate.publicKey.rawData));
  const issuer: Issuer = {
    certificate: ca.certificate,
    privateKey: ca.privateKey,
    name: certificate.subjectName,
    keyId,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    signingKey,
    algorithm,
  };
  issuers.set(ca, issuer);
  return issuer;
}

/**
 * Mints a server or client leaf signed by the link CA. Its lifetime is clamped into the CA's:
 * a leaf never outlives (nor predates) the CA that signs it.
 */
export async function mintLeaf(req: MintLeafRequest): Promise<CredentialPem> {
  requireValid(req);
  const issuer = await issuerOf(req.ca);
  const now = req.now.getTime();
  const notBefore = new Date(Math.max(now - BACKDATE_MS, issuer.notBefore.getTime()));
  const notAfter = new Date(Math.min(now + req.ttlMs, issuer.notAfter.getTime()));
  if (notAfter.getTime() <= now) throw new MeshlinkError('invalid-argument', `CA expired at ${issuer.notAfter.toISOString()}`);
  const rsa = ALGORITHMS[req.keyAlgorithm].rsa;
  const { credential } = await issue({
    subject: new Name(`CN=${req.host}`),
    issuer,
    keyAlgorithm: req.keyAlgorithm,
    notBefore,
    notAfter,
    extensions: (id) => [
      new BasicConstraintsExtension(false, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.digitalSignature | (rsa ? KeyUsageFlags.keyEncipherment : 0), true),
      new ExtendedKeyUsageExtension([req.side === 'server' ? ExtendedKeyUsage.serverAuth : ExtendedKeyUsage.clientAuth]),
      new SubjectKeyIdentifierExtension(id),
      new AuthorityKeyIdentifierExtension(issuer.keyId),
      new SubjectAlternativeNameExtension([
        { type: 'dns', value: req.host },
        { type: 'url', value: sideIdentity(req.host, req.link, req.side) },
      ]),
    ],
  });
  return credential;
}
