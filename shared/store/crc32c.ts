// CRC32C (Castagnoli), the checksum Secret Manager uses for payload integrity (`data_crc32c`).
// Node 20 has no built-in CRC32C (zlib.crc32 is the IEEE polynomial), hence this small table.

const POLY_REVERSED = 0x82f63b78;

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY_REVERSED : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The CRC32C of `data` as an unsigned 32-bit integer. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
