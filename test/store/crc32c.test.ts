// CRC32C against published test vectors (RFC 3720 appendix B.4 and the common check value).
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
