// The few DER bytes the X.509 library has no class for: name constraints and the key-identifier input.
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
