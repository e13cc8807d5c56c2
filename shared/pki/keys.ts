// Key algorithms: how to generate each in WebCrypto, which signature it makes, and loading a PEM key to sign with.
import { createPrivateKey, webcrypto, type KeyObject } from 'node:crypto';
import { MeshlinkError } from '../errors.js';
import type { KeyAlgorithm } from '../link/spec.js';

type WebKeyPair = webcrypto.CryptoKeyPair;
type WebKey = webcrypto.CryptoKey;

interface AlgorithmTraits {
  generate: webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams;
  /** Import parameters: also what the key's CryptoKey.algorithm says. */
  import: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  /** Signature made with this key: ecdsa-with-SHA256/384 or sha256WithRSAEncryption. */
  sign: webcrypto.EcdsaParams | webcrypto.Algorithm;
  /** RSA keys may also encipher (TLS 1.2 RSA key exchange), EC keys only sign. */
  rsa: boolean;
}

const F4 = new Uint8Array([1, 0, 1]);

function rsa(modulusLength: number): AlgorithmTraits {
  const name = 'RSASSA-PKCS1-v1_5';
  return {
    generate: { name, modulusLength, publicExponent: F4, hash: 'SHA-256' },
    import: { name, hash: 'SHA-256' },
    sign: { name },
    rsa: true,
  };
}

function ecdsa(namedCurve: 'P-256' | 'P-384', hash: 'SHA-256' | 'SHA-384'): AlgorithmTraits {
  return {
    generate: { name: 'ECDSA', namedCurve },
    import: { name: 'ECDSA', namedCurve },
    sign: { name: 'ECDSA', hash },
    rsa: false,
  };
}

export const ALGORITHMS: Record<KeyAlgorithm, AlgorithmTraits> = {
  'ECDSA-P256': ecdsa('P-256', 'SHA-256'),
  'ECDSA-P384': ecdsa('P-384', 'SHA-384'),
  'RSA-2048': rsa(2048),
  'RSA-3072': rsa(3072),
  'RSA-4096': rsa(4096),
};

export function generateKeyPair(algorithm: KeyAlgorithm): Promise<WebKeyPair> {
  // Extractable: the private key leaves as PKCS#8 PEM for the store.
  return webcrypto.subtle.generateKey(ALGORITHMS[algorithm].generate, true, ['sign', 'verify']);
}

/** The KeyAlgorithm of a parsed key, or undefined for anything meshlink does not mint. */
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

/** A PEM private key parsed for signing, with the algorithm it signs with. */
export async function loadSigningKey(pem: string): Promise<{ key: KeyObject; signingKey: WebKey; algorithm: KeyAlgorithm }> {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (cause) {
    // The cause names the parse failure only, never the key bytes.
    throw new MeshlinkError('invalid-argument', 'CA private key is not a readable PEM key', { cause });
  }
  const algorithm = keyAlgorithmOf(key);
  if (algorithm === undefined) throw new MeshlinkError('invalid-argument', 'CA private key uses an unsupported algorithm');
  // JWK import skips OpenSSL's slow PKCS#8 decoder a second time.
  const signingKey = await webcrypto.subtle.importKey('jwk', key.export({ format: 'jwk' }), ALGORITHMS[algorithm].import, false, ['sign']);
  return { key, signingKey, algorithm };
}
