// Assembles an X.509 v3 certificate from DER parts (names and extensions encoded by the X.509
// library) and signs it with node:crypto. The library's own generator re-serializes and re-parses
// the whole certificate several times, which made minting ~10x slower than the key work itself;
// the test suite checks this assembly byte for byte against that generator.
import { sign, type KeyObject } from 'node:crypto';
import type { KeyAlgorithm } from '../link/spec.js';
import { derTlv } from './der.js';
import { ALGORITHMS } from './keys.js';

export interface CertificateParts {
  /** Positive serial, DER INTEGER contents (no leading zero byte needed: high bit clear). */
  serial: Uint8Array;
  /** DER Name. */
  issuer: Uint8Array;
  /** DER Name. */
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
  /** DER Extension each. */
  extensions: Uint8Array[];
}

const VERSION_3 = derTlv(0xa0, derTlv(0x02, Uint8Array.of(2)));

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, whole seconds, Zulu. */
function derTime(date: Date): Uint8Array {
  const iso = date.toISOString(); // 2026-01-01T00:00:00.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const utc = date.getUTCFullYear() < 2050;
  return derTlv(utc ? 0x17 : 0x18, Buffer.from(`${utc ? digits.slice(2) : digits}Z`, 'ascii'));
}

/** The DER TBSCertificate of `parts`, signed with a key of `algorithm`. */
export function tbsCertificate(parts: CertificateParts, algorithm: KeyAlgorithm): Uint8Array {
  return derTlv(
    0x30,
    VERSION_3,
    derTlv(0x02, parts.serial),
    ALGORITHMS[algorithm].signatureAlgorithm,
    parts.issuer,
    derTlv(0x30, derTime(parts.notBefore), derTime(parts.notAfter)),
    parts.subject,
    parts.spki,
    derTlv(0xa3, derTlv(0x30, ...parts.extensions)),
  );
}

/** The DER certificate: `parts` signed by `signer` (of `algorithm`). */
export function signCertificate(parts: CertificateParts, signer: KeyObject, algorithm: KeyAlgorithm): Uint8Array {
  const traits = ALGORITHMS[algorithm];
  const tbs = tbsCertificate(parts, algorithm);
  // ECDSA comes out as the DER Ecdsa-Sig-Value X.509 wants; RSA as PKCS#1 v1.5.
  const signature = sign(traits.hash, tbs, { key: signer, dsaEncoding: 'der' });
  return derTlv(0x30, tbs, traits.signatureAlgorithm, derTlv(0x03, Uint8Array.of(0), signature));
}
