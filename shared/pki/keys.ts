// Key algorithms: generating each with node:crypto, the signature it makes, and reading a PEM key back.
import { createPrivateKey, generateKeyPair as generateKeyPairCallback, generateKeyPairSync, randomBytes, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { MeshlinkError } from '../errors.js';
import type { KeyAlgorithm } from '../link/spec.js';

const generate = promisify(generateKeyPairCallback);

/** A new key pair: the public key as DER SubjectPublicKeyInfo, the private key as PKCS#8 PEM. */
export interface GeneratedKey {
  spki: Uint8Array;
  privateKeyPem: string;
}

/** A new key pair with its private key as a KeyObject too: what the mint signs with and checks. */
export interface GeneratedKeyObject extends GeneratedKey {
  key: KeyObject;
}

interface AlgorithmTraits {
  generate: () => Promise<GeneratedKey>;
  generateWithObject: () => Promise<GeneratedKeyObject>;
  /** Digest of the signature this key makes (ecdsa-with-SHA256/384, sha256WithRSAEncryption). */
  hash: 'sha256' | 'sha384';
  /** DER AlgorithmIdentifier of that signature (RFC 5758 3.2: ECDSA without parameters; RFC 4055: RSA with NULL). */
  signatureAlgorithm: Uint8Array;
  /** RSA keys may also encipher (TLS 1.2 RSA key exchange); EC keys only sign. */
  rsa: boolean;
}

// Both encodings are made by the key generation job itself: no KeyObject of the job is ever
// exported. Node 20 deadlocks when a GC, run while an export of such a key holds its lock (seen
// with JWK export), destroys the job, whose destructor takes the same lock: the process hangs for
// good. A key wanted as a KeyObject is encoded by the job as a JWK, read into a KeyObject of its
// own (createPrivateKey of a JWK sets the key's numbers: a fifth of decoding PEM, which goes
// through OpenSSL's decoder search) and its PEM exported from that KeyObject, which no job holds.
const SPKI_DER = { type: 'spki', format: 'der' } as const;
const PKCS8_PEM = { type: 'pkcs8', format: 'pem' } as const;
const PKCS8_JWK = { type: 'pkcs8', format: 'jwk' } as const;

function generated(pair: { publicKey: Buffer; privateKey: string }): GeneratedKey {
  return { spki: new Uint8Array(pair.publicKey), privateKeyPem: pair.privateKey };
}

/** `pair` made with SPKI_DER and PKCS8_JWK encodings (typed by Node as a string or Buffer). */
function generatedObject(pair: { publicKey: Buffer; privateKey: unknown }): GeneratedKeyObject {
  const key = createPrivateKey({ key: pair.privateKey as JsonWebKey, format: 'jwk' });
  return { spki: new Uint8Array(pair.publicKey), privateKeyPem: key.export(PKCS8_PEM) as string, key };
}

const ECDSA_WITH_SHA256 = Uint8Array.of(0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02);
const ECDSA_WITH_SHA384 = Uint8Array.of(0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03);
const SHA256_WITH_RSA = Uint8Array.of(0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00);

function rsa(modulusLength: number): AlgorithmTraits {
  return {
    // Off the event loop: an RSA key takes tens to hundreds of milliseconds.
    generate: async () => generated(await generate('rsa', { modulusLength, publicExponent: 65537, publicKeyEncoding: SPKI_DER, privateKeyEncoding: PKCS8_PEM })),
    generateWithObject: async () => generatedObject(await generate('rsa', { modulusLength, publicExponent: 65537, publicKeyEncoding: SPKI_DER, privateKeyEncoding: PKCS8_JWK as never })),
    hash: 'sha256',
    signatureAlgorithm: SHA256_WITH_RSA,
    rsa: true,
  };
}

function ecdsa(namedCurve: 'P-256' | 'P-384'): AlgorithmTraits {
  const p256 = namedCurve === 'P-256';
  return {
    // In-line: an EC key takes less time to make than the round trip to libuv's thread pool.
    generate: async () => generated(generateKeyPairSync('ec', { namedCurve, publicKeyEncoding: SPKI_DER, privateKeyEncoding: PKCS8_PEM })),
    generateWithObject: async () => generatedObject(generateKeyPairSync('ec', { namedCurve, publicKeyEncoding: SPKI_DER, privateKeyEncoding: PKCS8_JWK as never })),
    hash: p256 ? 'sha256' : 'sha384',
    signatureAlgorithm: p256 ? ECDSA_WITH_SHA256 : ECDSA_WITH_SHA384,
    rsa: false,
  };
}

export const ALGORITHMS: Record<KeyAlgorithm, AlgorithmTraits> = {
  'ECDSA-P256': ecdsa('P-256'),
  'ECDSA-P384': ecdsa('P-384'),
  'RSA-2048': rsa(2048),
  'RSA-3072': rsa(3072),
  'RSA-4096': rsa(4096),
};

/** The KeyAlgorithm of a key, or undefined for anything meshlink does not mint. */
export function keyAlgorithmOf(key: KeyObject): KeyAlgorithm | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') {
    if (details?.namedCurve === 'prime256v1') return 'ECDSA-P256';
    if (details?.namedCurve === 'secp384r1') return 'ECDSA-P384';
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details?.modulusLength;
    if (bits === 2048 || bits === 3072 || bits === 4096) return `RSA-${bits}`;
  }
  return undefined;
}

/** Reads a PEM private key of an algorithm meshlink mints; `what` names it in errors. */
export function readPrivateKey(pem: string, what: string): { key: KeyObject; algorithm: KeyAlgorithm } {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (cause) {
    // OpenSSL's message names the failure, never the key bytes.
    throw new MeshlinkError('invalid-argument', `${what} is not a readable PEM private key`, { cause });
  }
  const algorithm = keyAlgorithmOf(key);
  if (algorithm === undefined) throw new MeshlinkError('invalid-argument', `${what} uses an unsupported key algorithm`);
  return { key, algorithm };
}

/**
 * Whether the private key really signs for the public key (a certificate's): a fresh challenge
 * signed and verified. OpenSSL's own check (X509Certificate.checkPrivateKey) compares the public
 * key a key file carries, so a key whose private part was changed passes it and then signs
 * nothing the certificate verifies.
 */
export function signsFor(privateKey: KeyObject, publicKey: KeyObject): boolean {
  const challenge = randomBytes(32);
  try {
    return verify('sha256', challenge, publicKey, sign('sha256', challenge, privateKey));
  } catch {
    return false;
  }
}
