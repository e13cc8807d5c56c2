// Where each secret's record and payloads are in the store journal, as frames are applied to it;
// and the replay of a journal's bytes on open (standard WAL recovery). Pure: no I/O.
import { crc32c } from './crc32c.js';
import { FRAME_PREFIX, walkFrames, type Frame, type Span } from './journal-frames.js';
import type { SecretRecord } from './model.js';

export interface IndexEntry {
  /** The JSON header of the frame holding the current record. */
  record: Span;
  /** Payloads of versions not destroyed, by version. */
  payloads: Map<number, Span>;
  /** Payloads of destroyed versions whose bytes are not zeroed yet (erasePayload's work). */
  doomed: Map<number, Span>;
}

export class JournalIndex {
  readonly entries = new Map<string, IndexEntry>();
  /** Bytes of current records (with their frame prefix) and live payloads: the rest is garbage. */
  liveBytes = 0;

  /** Applies a frame; returns the payload spans it drops without dooming (a deleted secret's): to be zeroed. */
  apply({ header, headerSpan, payload }: Frame): Span[] {
    if (header.op === 'delete') {
      const entry = this.entries.get(header.id);
      if (!entry) return [];
      this.entries.delete(header.id);
      this.liveBytes -= FRAME_PREFIX + entry.record.length + sum(entry.payloads.values());
      return [...entry.payloads.values(), ...entry.doomed.values()];
    }
    if (header.op === 'payload') {
      this.setPayload(this.entries.get(header.id)!, header.version, payload);
      return [];
    }
    const { record } = header;
    let entry = this.entries.get(record.id);
    if (entry) {
      this.liveBytes += headerSpan.length - entry.record.length;
      entry.record = headerSpan;
    } else {
      entry = { record: headerSpan, payloads: new Map(), doomed: new Map() };
      this.entries.set(record.id, entry);
      this.liveBytes += FRAME_PREFIX + headerSpan.length;
    }
    if (header.op === 'version') this.setPayload(entry, header.version, payload);
    for (const v of record.versions) {
      const span = v.state === 'DESTROYED' ? entry.payloads.get(v.version) : undefined;
      if (!span) continue;
      entry.payloads.delete(v.version);
      entry.doomed.set(v.version, span);
      this.liveBytes -= span.length;
    }
    return [];
  }

  private setPayload(entry: IndexEntry, version: number, span: Span): void {
    this.liveBytes += span.length - (entry.payloads.get(version)?.length ?? 0);
    entry.payloads.set(version, span);
  }
}

function sum(spans: Iterable<Span>): number {
  let total = 0;
  for (const s of spans) total += s.length;
  return total;
}

export interface Replayed {
  index: JournalIndex;
  /** Where the valid prefix ends: the file is cut there. */
  end: number;
  /** Each secret's current record, parsed on the way. */
  records: Map<string, SecretRecord>;
  /** Payloads destroyed or deleted whose bytes are still there (a crash before their erasure): to be zeroed. */
  unerased: Span[];
}

const versionKey = (id: string, version: number) => `${id}\0${version}`;

/**
 * Replays a journal's bytes. The valid prefix ends at the first frame that is short, fails its
 * header checksum or does not parse, or whose payload does not match its version's crc32c unless
 * a later frame destroys that version or deletes the secret (its erasure zeroed it). Frames are
 * acknowledged only once an fdatasync covering them and every byte before them has returned, so
 * the acknowledged frames are a prefix of the file and what follows a bad frame never was: the
 * recovery of SQLite's WAL and LevelDB's log, which also stop at the first bad frame.
 */
export function replay(bytes: Uint8Array): Replayed {
  let limit = bytes.length;
  for (;;) {
    const index = new JournalIndex();
    const records = new Map<string, SecretRecord>();
    /** Versions whose payload does not match: frame start by version key. */
    const suspects = new Map<string, number>();
    const intact = new Set<number>();
    const dropped: Span[] = [];
    let end = 0;
    let cut: number | undefined;
    for (const frame of walkFrames(bytes.subarray(0, limit))) {
      const { header } = frame;
      if (header.op === 'version' || header.op === 'payload') {
        const id = header.op === 'version' ? header.record.id : header.id;
        const record = header.op === 'version' ? header.record : records.get(id);
        const version = record?.versions[header.version - 1];
        if (!version || version.version !== header.version) {
          cut = frame.start; // a payload no record names: never written so
          break;
        }
        const bytesOf = bytes.subarray(frame.payload.offset, frame.payload.offset + frame.payload.length);
        if (crc32c(bytesOf) === version.crc32c) intact.add(frame.payload.offset);
        else suspects.set(versionKey(id, header.version), frame.start);
      }
      if (header.op === 'put') for (const v of header.record.versions) if (v.state === 'DESTROYED') suspects.delete(versionKey(header.record.id, v.version));
      if (header.op === 'delete') for (const key of suspects.keys()) if (key.startsWith(`${header.id}\0`)) suspects.delete(key);
      if (header.op === 'put' || header.op === 'version') records.set(header.record.id, header.record);
      if (header.op === 'delete') records.delete(header.id);
      dropped.push(...index.apply(frame));
      end = frame.end;
    }
    const bad = Math.min(cut ?? Infinity, ...suspects.values());
    if (bad === Infinity) {
      for (const entry of index.entries.values()) {
        dropped.push(...entry.doomed.values());
        entry.doomed.clear(); // zeroed on open, below
      }
      return { index, end, records, unerased: dropped.filter((s) => s.length > 0 && intact.has(s.offset)) };
    }
    limit = bad;
  }
}
