// Minting: a link's self-signed, name-constrained CA and the server and client leaves it signs.
import { createHash, randomBytes, X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { MeshlinkError } from '../errors.js';
import { sideIdentity } from '../link/names.js';
import type { KeyAlgorithm } from '../link/spec.js';
import { signCertificate } from './certificate.js';
import { spkiPublicKeyBits } from './der.js';
import {
  authorityKeyIdentifier,
  fixedExtensions,
  nameConstraints,
  subjectAltName,
  subjectKeyIdentifier,
} from './extensions.js';
import { ALGORITHMS, readPrivateKey, signsFor } from './keys.js';
import { readCertificate } from './inspect.js';
import { encodePem } from './pem.js';
import { BACKDATE_MS, type CertificateSummary, type CredentialPem, type MintCaRequest, type MintLeafRequest } from './types.js';
import { x509, type X509Certificate } from './x509.js';


/** What signing a leaf needs from a CA credential. */
interface Issuer {
  certificate: string;
  privateKey: string;
  key: KeyObject;
  algorithm: KeyAlgorithm;
  /** DER of the CA's subject: the leaves' issuer. */
  name: Uint8Array;
  authorityKeyIdentifier: Uint8Array;
  notBefore: Date;
  notAfter: Date;
}

// Keyed by the caller's credential object: a CA minted here, or read once from the store, signs
// both leaves of a link without parsing its PEM again (OpenSSL's PEM key decoding alone costs
// more than minting a leaf). Entries go with the object; no key outlives what the caller holds.
const issuers = new WeakMap<CredentialPem, Issuer>();

/** A minted credential as it was handed out, and its certificate's summary as read back then. */
interface ReadBack {
  certificate: string;
  privateKey: string;
  summary: CertificateSummary;
}

// Keyed by the credential object, like issuers: the store write that follows a mint takes its
// reading rather than parsing the certificate and decoding its key again (about 1 ms a create).
const readBacks = new WeakMap<object, ReadBack>();

/**
 * The summary of a credential this process minted, unchanged since: read back by OpenSSL and
 * inspect.ts (the parser every later read uses) and its key pair checked before mintCa or mintLeaf
 * returned it. Undefined for any other credential (read from the store, issued by a CA pool,
 * copied or changed), which the caller must read and check itself.
 */
export function mintedSummary(credential: { certificate: string; privateKey?: string }): CertificateSummary | undefined {
  const known = readBacks.get(credential);
  return known && known.certificate === credential.certificate && known.privateKey === credential.privateKey ? known.summary : undefined;
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spki: Uint8Array): Uint8Array {
  return createHash('sha1').update(spkiPublicKeyBits(spki)).digest();
}

/** 128 random bits as a positive INTEGER of exactly 16 bytes (high bit clear, first byte non-zero). */
function randomSerial(): Uint8Array {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) || 1;
  return bytes;
}

function requireValid(req: { ttlMs: number; now: Date; link: string; host: string }): void {
  if (!(req.now instanceof Date) || Number.isNaN(req.now.getTime())) throw new MeshlinkError('invalid-argument', 'now must be a valid date');
  if (!Number.isSafeInteger(req.ttlMs) || req.ttlMs <= 0) throw new MeshlinkError('invalid-argument', 'ttlMs must be a positive whole number');
  if (req.link === '' || req.host === '') throw new MeshlinkError('invalid-argument', 'link and host are required');
}

interface Issue {
  subject: Uint8Array;
  /** Undefined for a self-signed certificate. */
  issuer?: Issuer;
  keyAlgorithm: KeyAlgorithm;
  notBefore: Date;
  notAfter: Date;
  /** All extensions but the subject key identifier, which is added first. */
  extensions: Uint8Array[];
}

interface Issued {
  credential: CredentialPem;
  certificate: Uint8Array;
  /** The private key as a KeyObject (a CA signs its leaves with it). */
  key: KeyObject;
  keyId: Uint8Array;
}

/** The last second X.509 can encode (GeneralizedTime has four year digits). */
const LAST_ENCODABLE_MS = Date.UTC(9999, 11, 31, 23, 59, 59);
const wholeSeconds = (date: Date) => Math.floor(date.getTime() / 1000) * 1000;

/**
 * Generates a key pair, signs its certificate, and checks the pair before handing it out. An end
 * date X.509 cannot encode is refused first (the spec bounds lifetimes: this is the last line).
 */
async function issue(spec: Issue): Promise<Issued> {
  if (spec.notAfter.getTime() >= LAST_ENCODABLE_MS + 1000) {
    throw new MeshlinkError('invalid-argument', `certificate notAfter ${spec.notAfter.toISOString()} is after 9999-12-31, the last date X.509 can encode`);
  }
  // The key comes as a KeyObject too, for OpenSSL to check the certificate against: no dearer than
  // a PEM key alone and the export of the certificate's public key its check needed.
  const { privateKeyPem, spki, key } = await ALGORITHMS[spec.keyAlgorithm].generateWithObject();
  const keyId = keyIdentifier(spki);
  const certificate = signCertificate(
    {
      serial: randomSerial(),
      issuer: spec.issuer?.name ?? spec.subject,
      subject: spec.subject,
      notBefore: spec.notBefore,
      notAfter: spec.notAfter,
      spki,
      extensions: [subjectKeyIdentifier(keyId), ...spec.extensions],
    },
    spec.issuer?.key ?? key,
    spec.issuer?.algorithm ?? spec.keyAlgorithm,
  );
  // Read back by OpenSSL, which the gateways use too, and summarized as every later read does: a
  // certificate that does not read, or a mismatch, is a bug, never shipped.
  const { openssl, summary } = readCertificate(certificate);
  if (!openssl.checkPrivateKey(key)) {
    throw new MeshlinkError('internal', 'minted certificate does not match its private key');
  }
  const credential = {
    certificate: encodePem(certificate, 'CERTIFICATE'),
    privateKey: privateKeyPem,
  };
  readBacks.set(credential, { ...credential, summary });
  return { credential, certificate, key, keyId };
}

/**
 * Mints the CA of a link (generation 1, 2, ... across rollovers): self-signed, or under an
 * issuing CA (`parent`), clamped into its validity like a leaf into its CA's.
 */
export async function mintCa(req: MintCaRequest): Promise<CredentialPem> {
  requireValid(req);
  if (!Number.isSafeInteger(req.generation) || req.generation < 1) throw new MeshlinkError('invalid-argument', 'generation must be a whole number from 1');
  const now = req.now.getTime();
  const subject = new Uint8Array(new (x509().Name)(`CN=meshlink ${req.link} CA ${req.generation}, O=meshlink`).toArrayBuffer());
  const parent = req.parent && issuerOf(req.parent.ca);
  let notBefore = new Date(now - BACKDATE_MS);
  let notAfter = new Date(now + req.ttlMs);
  if (parent) {
    notBefore = new Date(Math.max(notBefore.getTime(), parent.notBefore.getTime()));
    notAfter = new Date(Math.min(notAfter.getTime(), parent.notAfter.getTime(), req.parent!.notAfter.getTime()));
    if (notAfter.getTime() <= now) throw new MeshlinkError('invalid-argument', `the issuing CA's chain expired at ${notAfter.toISOString()}`);
  }
  const { credential, key, keyId } = await issue({
    subject,
    ...(parent ? { issuer: parent } : {}),
    keyAlgorithm: req.keyAlgorithm,
    notBefore,
    notAfter,
    extensions: [
      ...(parent ? [parent.authorityKeyIdentifier] : []),
      fixedExtensions().caBasicConstraints,
      fixedExtensions().caKeyUsage,
      nameConstraints(req.host),
    ],
  });
  issuers.set(credential, {
    ...credential,
    key,
    algorithm: req.keyAlgorithm,
    name: subject,
    authorityKeyIdentifier: authorityKeyIdentifier(keyId),
    // As encoded: whole seconds.
    notBefore: new Date(wholeSeconds(notBefore)),
    notAfter: new Date(wholeSeconds(notAfter)),
  });
  return credential;
}

/** The issuer behind a CA credential: remembered if minted or seen before, else parsed and checked. */
function issuerOf(ca: CredentialPem): Issuer {
  const known = issuers.get(ca);
  if (known && known.certificate === ca.certificate && known.privateKey === ca.privateKey) return known;
  const { BasicConstraintsExtension, SubjectKeyIdentifierExtension, X509Certificate: Certificate } = x509();
  let certificate: X509Certificate;
  try {
    certificate = new Certificate(ca.certificate);
  } catch (cause) {
    throw new MeshlinkError('invalid-argument', 'CA certificate is not a readable PEM certificate', { cause });
  }
  if (!certificate.getExtension(BasicConstraintsExtension)?.ca) throw new MeshlinkError('invalid-argument', 'CA certificate is not a CA');
  const { key, algorithm } = readPrivateKey(ca.privateKey, 'CA private key');
  const readBack = new NodeX509Certificate(new Uint8Array(certificate.rawData));
  if (!readBack.checkPrivateKey(key) || !signsFor(key, readBack.publicKey)) {
    throw new MeshlinkError('invalid-argument', 'CA private key does not match the CA certificate');
  }
  const subjectKeyId = certificate.getExtension(SubjectKeyIdentifierExtension)?.keyId;
  const keyId = subjectKeyId === undefined ? keyIdentifier(new Uint8Array(certificate.publicKey.rawData)) : Buffer.from(subjectKeyId, 'hex');
  const issuer: Issuer = {
    certificate: ca.certificate,
    privateKey: ca.privateKey,
    key,
    algorithm,
    name: new Uint8Array(certificate.subjectName.toArrayBuffer()),
    authorityKeyIdentifier: authorityKeyIdentifier(keyId),
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
  };
  issuers.set(ca, issuer);
  return issuer;
}

/**
 * DER subjects of leaves by host: a link's two leaves share theirs (CN=<host>), and the library's
 * ASN.1 serializer costs more than the rest of a leaf's encoding. Emptied when full (the pure core
 * has no cache module; only back-to-back mints matter); the bytes are only read.
 */
const leafSubjects = new Map<string, Uint8Array>();
const LEAF_SUBJECTS_KEPT = 256;

function leafSubject(host: string): Uint8Array {
  let subject = leafSubjects.get(host);
  if (!subject) {
    if (leafSubjects.size >= LEAF_SUBJECTS_KEPT) leafSubjects.clear();
    subject = new Uint8Array(new (x509().Name)(`CN=${host}`).toArrayBuffer());
    leafSubjects.set(host, subject);
  }
  return subject;
}

/**
 * Mints a server or client leaf signed by the link CA. Its lifetime is clamped into the CA's:
 * a leaf never outlives (nor predates) the CA that signs it.
 */
export async function mintLeaf(req: MintLeafRequest): Promise<CredentialPem> {
  requireValid(req);
  const issuer = issuerOf(req.ca);
  const now = req.now.getTime();
  const notBefore = new Date(Math.max(now - BACKDATE_MS, issuer.notBefore.getTime()));
  const notAfter = new Date(Math.min(now + req.ttlMs, issuer.notAfter.getTime()));
  if (notAfter.getTime() <= now) throw new MeshlinkError('invalid-argument', `the CA expired at ${issuer.notAfter.toISOString()}`);
  const fixed = fixedExtensions();
  const { credential } = await issue({
    subject: leafSubject(req.host),
    issuer,
    keyAlgorithm: req.keyAlgorithm,
    notBefore,
    notAfter,
    extensions: [
      issuer.authorityKeyIdentifier,
      fixed.leafBasicConstraints,
      ALGORITHMS[req.keyAlgorithm].rsa ? fixed.leafKeyUsage.rsa : fixed.leafKeyUsage.ec,
      fixed.leafExtendedKeyUsage[req.side],
      subjectAltName(req.host, sideIdentity(req.host, req.link, req.side)),
    ],
  });
  return credential;
}
