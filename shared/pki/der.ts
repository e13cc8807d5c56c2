// The few DER bytes the X.509 library has no class for (name constraints, the key-identifier
// input), and the extensions of a certificate found by OID without parsing them all.
import { MeshlinkError } from '../errors.js';

function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** One DER tag-length-value with the given contents. */
export function derTlv(tag: number, ...contents: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(contents);
  return Buffer.concat([Uint8Array.of(tag), encodeLength(body.length), body]);
}

export interface Tlv {
  tag: number;
  /** Offset of the contents. */
  start: number;
  /** Offset just past the contents. */
  end: number;
}

/** The tag-length-value starting at `offset`. */
export function readTlv(der: Uint8Array, offset: number): Tlv {
  const tag = der[offset];
  const first = der[offset + 1];
  if (tag === undefined || first === undefined) throw new MeshlinkError('invalid-argument', 'truncated DER');
  let start = offset + 2;
  let length = first;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new MeshlinkError('invalid-argument', 'unsupported DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[start + i] ?? Number.NaN);
    start += count;
  }
  const end = start + length;
  if (!(end <= der.length)) throw new MeshlinkError('invalid-argument', 'truncated DER');
  return { tag, start, end };
}

/**
 * The subjectPublicKey BIT STRING contents (unused-bits byte dropped) of a SubjectPublicKeyInfo:
 * what RFC 5280 4.2.1.2 method 1 hashes into a key identifier.
 */
export function spkiPublicKeyBits(spki: Uint8Array): Uint8Array {
  const outer = readTlv(spki, 0);
  const algorithm = readTlv(spki, outer.start);
  const bits = readTlv(spki, algorithm.end);
  if (outer.tag !== 0x30 || algorithm.tag !== 0x30 || bits.tag !== 0x03) {
    throw new MeshlinkError('invalid-argument', 'not a SubjectPublicKeyInfo');
  }
  return spki.subarray(bits.start + 1, bits.end);
}

/** The DER contents of an OBJECT IDENTIFIER, hex: `551d11` is 2.5.29.17. */
export type OidHex = string;

/**
 * The extnValue contents of each extension of a DER certificate, by its OID. The X.509 library
 * parses every extension to find one: twice the cost of the rest of a certificate's reading.
 * Call it on a certificate the library has read (its structure is checked there).
 */
export function certificateExtensions(der: Uint8Array): Map<OidHex, Uint8Array> {
  const found = new Map<OidHex, Uint8Array>();
  const tbs = readTlv(der, readTlv(der, 0).start);
  for (let at = tbs.start; at < tbs.end; ) {
    const field = readTlv(der, at);
    at = field.end;
    if (field.tag !== 0xa3) continue; // [3] extensions, after the fields before it
    const list = readTlv(der, field.start);
    for (let next = list.start; next < list.end; ) {
      const extension = readTlv(der, next);
      next = extension.end;
      const oid = readTlv(der, extension.start);
      let value = readTlv(der, oid.end);
      if (value.tag === 0x01) value = readTlv(der, value.end); // critical
      found.set(Buffer.from(der.subarray(oid.start, oid.end)).toString('hex'), der.subarray(value.start, value.end));
    }
  }
  return found;
}

/** BasicConstraints' cA (a SEQUENCE whose first element, when a BOOLEAN, is cA; absent, false). */
export function basicConstraintsCa(value: Uint8Array | undefined): boolean {
  if (value === undefined) return false;
  const sequence = readTlv(value, 0);
  if (sequence.start === sequence.end) return false;
  const first = readTlv(value, sequence.start);
  return first.tag === 0x01 && value[first.start] !== 0;
}
