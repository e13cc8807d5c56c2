// Reading certificates back: summaries, PEM bundles, and key/issuer checks. Pure and synchronous.
import { createHash, createPrivateKey, X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { MeshlinkError } from '../errors.js';
import { basicConstraintsCa, certificateExtensions, certificateValidity, subjectAltNames } from './der.js';
import { decodePemBlocks, encodePem } from './pem.js';
import type { CertificateSummary } from './types.js';
import { x509, type X509Certificate } from './x509.js';

const LABEL = 'CERTIFICATE';
/** 2.5.29.17 and 2.5.29.19, as DER contents. */
const OID_SUBJECT_ALT_NAME = '551d11';
const OID_BASIC_CONSTRAINTS = '551d13';

function fingerprintOf(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** The first certificate of `pem` (a leaf followed by its chain stands for the leaf). */
function firstDer(pem: string): Buffer {
  const [first] = decodePemBlocks(pem, LABEL);
  if (first === undefined) throw new MeshlinkError('invalid-argument', 'no PEM CERTIFICATE block found');
  return first;
}

function readDer(der: Uint8Array): NodeX509Certificate {
  try {
    return new NodeX509Certificate(der);
  } catch (cause) {
    throw new MeshlinkError('invalid-argument', 'not a readable X.509 certificate', { cause });
  }
}

function readNode(pem: string): NodeX509Certificate {
  return readDer(firstDer(pem));
}

/**
 * What meshlink reads of a certificate. OpenSSL (node:crypto) reads it whole, refusing what it
 * cannot; the dates, names and CA flag come from the DER (der.ts), and the subject, issuer and
 * serial number, in the X.509 library's notation, from the library on first use: its parse of a
 * certificate (about 1 ms) was most of a create's three readings, and a create reads none of them.
 */
export function inspectCertificate(pem: string): CertificateSummary {
  return readCertificate(firstDer(pem)).summary;
}

/**
 * inspectCertificate of one DER certificate, with OpenSSL's reading of it for a caller that checks
 * more on it: the mint reads what it signs back here, so its check and every later read share a parser.
 */
export function readCertificate(der: Uint8Array): { openssl: NodeX509Certificate; summary: CertificateSummary } {
  const openssl = readDer(der);
  let certificate: X509Certificate | undefined;
  const library = (): X509Certificate => {
    try {
      certificate ??= new (x509().X509Certificate)(new Uint8Array(der)); // a plain ArrayBuffer-backed view, as the library types want
    } catch (cause) {
      throw new MeshlinkError('invalid-argument', 'not a readable X.509 certificate', { cause });
    }
    return certificate;
  };
  const extensions = certificateExtensions(der);
  const summary: CertificateSummary = {
    get serialNumber() {
      return library().serialNumber;
    },
    get subject() {
      return library().subject;
    },
    get issuer() {
      return library().issuer;
    },
    ...certificateValidity(der),
    fingerprint: fingerprintOf(der),
    ...subjectAltNames(extensions.get(OID_SUBJECT_ALT_NAME)),
    isCa: basicConstraintsCa(extensions.get(OID_BASIC_CONSTRAINTS)),
  };
  return { openssl, summary };
}

/** Every CERTIFICATE block of a bundle, in order, each in normalized PEM. */
export function splitPemBundle(bundle: string): string[] {
  return decodePemBlocks(bundle, LABEL).map((der) => encodePem(der, LABEL));
}

/** One bundle of the certificates of `pems` (each may be a bundle), duplicates dropped, first kept. */
export function joinPemBundle(pems: string[]): string {
  const seen = new Set<string>();
  let bundle = '';
  for (const der of pems.flatMap((pem) => decodePemBlocks(pem, LABEL))) {
    const fingerprint = fingerprintOf(der);
    if (seen.has(fingerprint)) continue;
    seen.add(fingerprint);
    bundle += encodePem(der, LABEL);
  }
  return bundle;
}

/** Whether the private key belongs to the certificate; throws invalid-argument if either is unreadable. */
export function keyMatchesCertificate(certPem: string, keyPem: string): boolean {
  const certificate = readNode(certPem);
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (cause) {
    // OpenSSL's message names the failure, never the key bytes.
    throw new MeshlinkError('invalid-argument', 'not a readable PEM private key', { cause });
  }
  return certificate.checkPrivateKey(key);
}

/** Names and key identifiers line up (OpenSSL's check_issued) and the CA's key verifies the signature. */
function issued(certificate: NodeX509Certificate, ca: NodeX509Certificate): boolean {
  return certificate.checkIssued(ca) && certificate.verify(ca.publicKey);
}

/** Whether `caPem` signed `certPem`. Validity dates are not checked: time is the caller's. */
export function isIssuedBy(certPem: string, caPem: string): boolean {
  return issued(readNode(certPem), readNode(caPem));
}

/**
 * Whether the first certificate of `certPem` chains to a CA of `caBundlePem`: signed by one, or
 * through the certificates that follow it in `certPem` (a leaf sent with its intermediates, as a
 * link under an issuer presents it). Signatures only: validity dates are the caller's.
 */
export function chainsToAny(certPem: string, caBundlePem: string): boolean {
  const anchors = decodePemBlocks(caBundlePem, LABEL).map(readDer);
  const [first, ...rest] = decodePemBlocks(certPem, LABEL).map(readDer);
  if (!first) throw new MeshlinkError('invalid-argument', 'no PEM CERTIFICATE block found');
  const used = new Set<NodeX509Certificate>();
  for (let current: NodeX509Certificate | undefined = first; current; ) {
    const c: NodeX509Certificate = current;
    if (anchors.some((anchor) => issued(c, anchor))) return true;
    current = rest.find((next) => !used.has(next) && issued(c, next));
    if (current) used.add(current);
  }
  return false;
}
