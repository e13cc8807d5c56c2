// The few DER bytes the X.509 library has no class for (name constraints, the key-identifier
// input), and what a certificate's reading needs (its validity, its extensions found by OID, the
// names of its SubjectAltName) without the library's parse of the whole certificate.
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

/** A UTCTime (two-digit year: 1950 to 2049, RFC 5280 4.1.2.5.1) or GeneralizedTime, in UTC. */
function derTime(der: Uint8Array, field: Tlv): Date {
  const text = Buffer.from(der.subarray(field.start, field.end)).toString('latin1');
  const parts = (field.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/ : field.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\.\d+)?Z$/ : undefined)?.exec(text);
  if (!parts) throw new MeshlinkError('invalid-argument', 'not a DER certificate time');
  const [year, month, day, hour, minute, second] = parts.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const fullYear = field.tag === 0x17 ? (year < 50 ? 2000 + year : 1900 + year) : year;
  const at = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, Math.floor(Number(parts[7] ?? 0) * 1000)));
  at.setUTCFullYear(fullYear); // Date.UTC reads years 0 to 99 as 1900 to 1999
  return at;
}

/**
 * The validity of a DER certificate (notBefore, notAfter): the fifth field of the
 * TBSCertificate, after the optional [0] version. Call it on a certificate OpenSSL has read.
 */
export function certificateValidity(der: Uint8Array): { notBefore: Date; notAfter: Date } {
  const tbs = readTlv(der, readTlv(der, 0).start);
  let at = tbs.start;
  if (readTlv(der, at).tag === 0xa0) at = readTlv(der, at).end;
  for (let skip = 0; skip < 3; skip++) at = readTlv(der, at).end; // serial, signature, issuer
  const validity = readTlv(der, at);
  const notBefore = readTlv(der, validity.start);
  return { notBefore: derTime(der, notBefore), notAfter: derTime(der, readTlv(der, notBefore.end)) };
}

/** The dNSName [2] and uniformResourceIdentifier [6] entries of a SubjectAltName value, in order. */
export function subjectAltNames(value: Uint8Array | undefined): { dnsNames: string[]; uris: string[] } {
  const names = { dnsNames: [] as string[], uris: [] as string[] };
  if (value === undefined) return names;
  const sequence = readTlv(value, 0);
  for (let at = sequence.start; at < sequence.end; ) {
    const name = readTlv(value, at);
    at = name.end;
    const text = () => Buffer.from(value.subarray(name.start, name.end)).toString('latin1'); // IA5String
    if (name.tag === 0x82) names.dnsNames.push(text());
    else if (name.tag === 0x86) names.uris.push(text());
  }
  return names;
}

/** BasicConstraints' cA (a SEQUENCE whose first element, when a BOOLEAN, is cA; absent, false). */
export function basicConstraintsCa(value: Uint8Array | undefined): boolean {
  if (value === undefined) return false;
  const sequence = readTlv(value, 0);
  if (sequence.start === sequence.end) return false;
  const first = readTlv(value, sequence.start);
  return first.tag === 0x01 && value[first.start] !== 0;
}
