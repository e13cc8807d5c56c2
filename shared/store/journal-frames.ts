// The local store journal's frames: encoding one, and walking the frames of a file's bytes up to
// the first that is short or damaged. Pure: no I/O.
import { crc32c } from './crc32c.js';
import type { SecretRecord } from './model.js';

/** What a frame says; `version` and `payload` frames carry the version's bytes after the header. */
export type FrameHeader =
  | { op: 'put'; record: SecretRecord }
  | { op: 'version'; record: SecretRecord; version: number }
  | { op: 'payload'; id: string; version: number }
  | { op: 'delete'; id: string };

/** u32 header length, u32 payload length, u32 crc32c of those 8 bytes and the header. */
export const FRAME_PREFIX = 12;

/** A span of the file. */
export interface Span {
  offset: number;
  length: number;
}

/** A frame as read back: where it starts and ends, its header (and where its JSON is), its payload's span. */
export interface Frame {
  start: number;
  end: number;
  header: FrameHeader;
  headerSpan: Span;
  payload: Span;
}

function headerCrc(lengths: Uint8Array, header: Uint8Array): number {
  return crc32c(header, crc32c(lengths));
}

/** One frame's bytes. */
export function encodeFrame(header: FrameHeader, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const frame = Buffer.alloc(FRAME_PREFIX + json.length + payload.length);
  frame.writeUInt32LE(json.length, 0);
  frame.writeUInt32LE(payload.length, 4);
  frame.writeUInt32LE(headerCrc(frame.subarray(0, 8), json), 8);
  json.copy(frame, FRAME_PREFIX);
  frame.set(payload, FRAME_PREFIX + json.length);
  return frame;
}

function isRecord(value: unknown): value is SecretRecord {
  const r = value as Partial<SecretRecord> | undefined;
  return typeof r?.id === 'string' && typeof r.etag === 'string' && Array.isArray(r.versions) && typeof r.labels === 'object' && typeof r.annotations === 'object';
}

/** A header read back, or undefined when it is not one this code writes. */
export function parseHeader(text: string): FrameHeader | undefined {
  let h: Partial<{ op: string; record: unknown; id: unknown; version: unknown }>;
  try {
    h = JSON.parse(text) as typeof h;
  } catch {
    return undefined;
  }
  const version = Number.isInteger(h.version) && (h.version as number) > 0;
  if (h.op === 'put' && isRecord(h.record)) return h as FrameHeader;
  if (h.op === 'version' && isRecord(h.record) && version) return h as FrameHeader;
  if (h.op === 'payload' && typeof h.id === 'string' && version) return h as FrameHeader;
  if (h.op === 'delete' && typeof h.id === 'string') return h as FrameHeader;
  return undefined;
}

/**
 * The frames of `bytes` in order, from offset 0 up to the first one that is short, fails its
 * header checksum or does not parse: the valid prefix ends there. Payloads are not checked here
 * (that takes the record they belong to).
 */
export function* walkFrames(bytes: Uint8Array): Generator<Frame> {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start = 0;
  while (start + FRAME_PREFIX <= view.length) {
    const headerLength = view.readUInt32LE(start);
    const payloadLength = view.readUInt32LE(start + 4);
    const headerAt = start + FRAME_PREFIX;
    const end = headerAt + headerLength + payloadLength;
    if (end > view.length) return;
    const json = view.subarray(headerAt, headerAt + headerLength);
    if (headerCrc(view.subarray(start, start + 8), json) !== view.readUInt32LE(start + 8)) return;
    const header = parseHeader(json.toString('utf8'));
    if (!header) return;
    yield { start, end, header, headerSpan: { offset: headerAt, length: headerLength }, payload: { offset: headerAt + headerLength, length: payloadLength } };
    start = end;
  }
}
