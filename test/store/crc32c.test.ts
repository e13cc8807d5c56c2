// CRC32C against published test vectors (RFC 3720 appendix B.4 and the common check value).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../shared/store/crc32c.js';

describe('crc32c', () => {
  it.each([
    ['the empty input', new Uint8Array(0), 0x00000000],
    ['"123456789" (check value)', new TextEncoder().encode('123456789'), 0xe3069283],
    ['32 zero bytes', new Uint8Array(32), 0x8a9136aa],
    ['32 bytes of 0xff', new Uint8Array(32).fill(0xff), 0x62a8ab43],
    ['32 ascending bytes', Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
    ['32 descending bytes', Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
  ])('matches the known value for %s', (_what, input, expected) => {
    expect(crc32c(input)).toBe(expected);
  });
});

/** The definition, a bit at a time: what the tables must agree with. */
function bitwise(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('crc32c, any input', () => {
  it('agrees with the bit-at-a-time definition, whatever the length and offset of the view', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(7), (bytes, skip) => {
        const view = bytes.subarray(Math.min(skip, bytes.length));
        expect(crc32c(view)).toBe(bitwise(view));
      }),
    );
  });

  it('continues a CRC: the CRC of a then b is crc32c(b, crc32c(a))', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 100 }), (a, b) => {
        const both = new Uint8Array([...a, ...b]);
        expect(crc32c(b, crc32c(a))).toBe(crc32c(both));
      }),
    );
  });
});
