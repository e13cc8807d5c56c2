// Reading an organisation's issuer bundle (Vault `pem_bundle`, Istio plug-in CA material): one
// private key, the issuing CA it matches, and the chain up to and including the root. Pure: time
// is a parameter. Errors name the problem, never the key bytes.
import { createHash, createPrivateKey, X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { isMeshlinkError, MeshlinkError } from '../errors.js';
import { keyAlgorithmOf, signsFor } from './keys.js';
import { decodePemBlocks, encodePem } from './pem.js';
import { readPemCertificates, subjectOf } from './pem-certificates.js';
import { x509 } from './x509.js';

/** A validated bundle, normalized: what the store keeps (SDS key names) and what a link CA is signed with. */
export interface IssuerBundle {
  /** The issuing CA: its certificate and PKCS#8 key. */
  issuing: { certificate: string; privateKey: string };
  /** The organisation's chain without the root: the issuing CA, then its issuers below the root ('' when the root issues). */
  chain: string;
  /** The root (the trust anchor a link's `ca.crt` holds). */
  root: string;
  /** The earliest notAfter of the chain: nothing signed under it may outlive it. */
  notAfter: Date;
}

export interface CertificateFacts {
  subject: string;
  /** SHA-256 of the DER, lowercase hex. */
  fingerprint: string;
  notAfter: string;
}

const KEY_LABELS = ['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY'];
const ANY_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----/g;

function invalid(message: string): MeshlinkError {
  return new MeshlinkError('invalid-argument', `invalid issuer bundle: ${message}`, { details: [{ path: 'bundle', message }] });
}

function fingerprintOf(certificate: NodeX509Certificate): string {
  return createHash('sha256').update(certificate.raw).digest('hex');
}

/** Subject, fingerprint and expiry of a PEM certificate (the first of a bundle). */
export function certificateFacts(pem: string): CertificateFacts {
  const [der] = decodePemBlocks(pem, 'CERTIFICATE');
  if (!der) throw new MeshlinkError('internal', 'no certificate to describe');
  const certificate = new NodeX509Certificate(der);
  return { subject: subjectOf(certificate), fingerprint: fingerprintOf(certificate), notAfter: new Date(certificate.validTo).toISOString() };
}

/** decodePemBlocks, its refusal of a malformed block told as a bundle problem. */
function blocks(text: string, label: string): Buffer[] {
  try {
    return decodePemBlocks(text, label);
  } catch (err) {
    throw invalid(err instanceof Error ? err.message : String(err));
  }
}

function readKey(pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (cause) {
    throw new MeshlinkError('invalid-argument', 'invalid issuer bundle: the private key is not readable', { cause, details: [{ path: 'bundle', message: 'the private key is not readable (an encrypted key is not supported)' }] });
  }
}

function readCertificates(text: string): NodeX509Certificate[] {
  try {
    return readPemCertificates(text);
  } catch (err) {
    if (!isMeshlinkError(err) || err.message.startsWith('malformed PEM')) throw invalid(err instanceof Error ? err.message : String(err));
    throw new MeshlinkError('invalid-argument', 'invalid issuer bundle: a certificate is not readable', { cause: err, details: [{ path: 'bundle', message: err.message }] });
  }
}

const name = subjectOf;
const selfSigned = (c: NodeX509Certificate) => c.checkIssued(c) && c.verify(c.publicKey);
const issued = (c: NodeX509Certificate, by: NodeX509Certificate) => c.checkIssued(by) && c.verify(by.publicKey);

/** basicConstraints of a certificate (through the X.509 library: node:crypto does not give pathLen). */
function basicConstraints(c: NodeX509Certificate): { ca: boolean; pathLength?: number } {
  const { BasicConstraintsExtension, X509Certificate } = x509();
  const ext = new X509Certificate(new Uint8Array(c.raw)).getExtension(BasicConstraintsExtension);
  return { ca: ext?.ca ?? false, ...(ext?.pathLength !== undefined ? { pathLength: ext.pathLength } : {}) };
}

/**
 * Validates a bundle at `now` and splits it: exactly one private key (of an algorithm meshlink
 * signs with), the CA certificate it matches, and a chain that links up to a self-signed root,
 * every certificate a CA valid at `now`, the issuing CA allowed to sign one more CA level (the
 * link CA). Certificates outside that chain are refused rather than silently dropped.
 */
export function parseIssuerBundle(text: string, now: Date): IssuerBundle {
  const labels = [...text.matchAll(ANY_BLOCK)].map((m) => m[1]!);
  if (labels.length === 0) throw invalid('not PEM: no PEM block found');
  if (labels.includes('ENCRYPTED PRIVATE KEY')) throw invalid('the private key is encrypted: import it decrypted');
  const keyPems = KEY_LABELS.flatMap((label) => blocks(text, label).map((der) => encodePem(der, label)));
  if (keyPems.length === 0) throw invalid('no private key: the bundle must hold the issuing CA key');
  if (keyPems.length > 1) throw invalid(`${keyPems.length} private keys: exactly one (the issuing CA's) is expected`);
  const key = readKey(keyPems[0]!);
  if (keyAlgorithmOf(key) === undefined) throw invalid('the private key uses an unsupported algorithm (ECDSA P-256/P-384 or RSA 2048/3072/4096)');
  const certificates = readCertificates(text);
  if (certificates.length === 0) throw invalid('no certificate: the bundle must hold the issuing CA and its chain up to the root');
  const issuing = certificates.find((c) => c.checkPrivateKey(key));
  if (!issuing) throw invalid('the private key matches no certificate of the bundle');
  if (!signsFor(key, issuing.publicKey)) throw invalid(`the private key does not sign for ${name(issuing)}: its private part does not belong to that certificate's public key`);

  // Walk up from the issuing CA to a self-signed root.
  const chain = [issuing];
  for (let current = issuing; !selfSigned(current); ) {
    const parent = certificates.find((c) => !chain.includes(c) && issued(current, c));
    if (!parent) throw invalid(`the chain does not link up: no certificate of the bundle issued ${name(current)} (the root must be included)`);
    chain.push(parent);
    current = parent;
  }
  const stray = certificates.find((c) => !chain.includes(c));
  if (stray) throw invalid(`${name(stray)} is not part of the chain from the issuing CA to the root`);

  for (const [i, c] of chain.entries()) {
    const constraints = basicConstraints(c);
    if (!constraints.ca) throw invalid(`${name(c)} is not a CA (basicConstraints CA:TRUE is required)`);
    // The link CA adds one CA level under the issuing CA: level i must allow i + 1 CAs below it.
    if (constraints.pathLength !== undefined && constraints.pathLength < i + 1) {
      throw invalid(`${name(c)} has pathLen ${constraints.pathLength}: no room for a link CA under the issuing CA`);
    }
    if (new Date(c.validFrom) > now) throw invalid(`${name(c)} is not valid yet (notBefore ${new Date(c.validFrom).toISOString()})`);
    if (new Date(c.validTo) <= now) throw invalid(`${name(c)} has expired (notAfter ${new Date(c.validTo).toISOString()})`);
  }

  const pem = (c: NodeX509Certificate) => encodePem(c.raw, 'CERTIFICATE');
  return {
    issuing: { certificate: pem(issuing), privateKey: key.export({ type: 'pkcs8', format: 'pem' }) as string },
    chain: chain.slice(0, -1).map(pem).join(''),
    root: pem(chain[chain.length - 1]!),
    notAfter: new Date(Math.min(...chain.map((c) => new Date(c.validTo).getTime()))),
  };
}
