// PEM text <-> DER bytes, in one normalized form: 64-column base64, LF endings, trailing newline.
import { MeshlinkError } from '../errors.js';

export function encodePem(der: Uint8Array, label: string): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += 64) lines.push(base64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The DER of every `label` block in `text`, in order; text outside the blocks is ignored. */
export function decodePemBlocks(text: string, label: string): Buffer[] {
  const blocks: Buffer[] = [];
  const pattern = new RegExp(`-----BEGIN ${label}-----([^-]*)-----END ${label}-----`, 'g');
  for (const match of text.matchAll(pattern)) {
    const body = (match[1] ?? '').replace(/\s+/g, '');
    if (!BASE64.test(body) || body.length % 4 !== 0) {
      throw new MeshlinkError('invalid-argument', `malformed PEM ${label} block`);
    }
    blocks.push(Buffer.from(body, 'base64'));
  }
  return blocks;
}
