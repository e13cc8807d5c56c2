// The local store's former layout (schema 1: a directory per secret, `<id>/meta.json` and
// `<id>/versions/<n>`), read only, so that a state directory written by an older meshlink is
// imported into the journal when the store first opens it.
import fs from 'node:fs';
import path from 'node:path';
import { MeshlinkError } from '../errors.js';
import { crc32c } from './crc32c.js';
import type { SecretRecord, VersionRecord } from './model.js';

/** Format marker of meta.json. */
const SCHEMA = 1;
const SECRET_DIR = /^[A-Za-z0-9_-]{1,255}$/;
/** A killed write's staging or deleted directory (`.<id>.new-*`, `.<id>.deleted-*`). */
const DEBRIS = /^\..+\.(new|deleted)-[0-9a-f-]+$/;

export interface LegacySecret {
  record: SecretRecord;
  /** The payloads that are there and match their version's crc32c (destroyed versions have none). */
  payloads: { version: number; bytes: Uint8Array }[];
}

/** The former layout's entries in `root`: secret directories, and what its killed writes left. */
export function legacyEntries(root: string): { secrets: string[]; debris: string[] } {
  const entries = fs.readdirSync(root, { withFileTypes: true });
  return {
    secrets: entries.filter((e) => e.isDirectory() && SECRET_DIR.test(e.name)).map((e) => e.name),
    debris: entries.filter((e) => DEBRIS.test(e.name)).map((e) => e.name),
  };
}

function parseMeta(text: string, file: string): SecretRecord {
  let meta: Partial<SecretRecord & { schema: number }>;
  try {
    meta = JSON.parse(text) as typeof meta;
  } catch (err) {
    throw new MeshlinkError('internal', `unreadable secret metadata ${file}`, { cause: err });
  }
  if (meta.schema !== SCHEMA || typeof meta.id !== 'string' || typeof meta.etag !== 'string' || !Array.isArray(meta.versions)) {
    throw new MeshlinkError('internal', `unexpected secret metadata format in ${file}`);
  }
  const versions: VersionRecord[] = meta.versions.map((v) => ({ version: v.version, state: v.state, createTime: v.createTime, crc32c: v.crc32c }));
  return { id: meta.id, labels: meta.labels ?? {}, annotations: meta.annotations ?? {}, etag: meta.etag, createTime: meta.createTime ?? '', versions };
}

function readIfThere(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * A secret directory's record and payloads; undefined without meta.json (a directory the former
 * store did not count as a secret). A payload that is missing or does not match its crc32c is
 * skipped, as that store refused to read it.
 */
export function readLegacySecret(root: string, id: string): LegacySecret | undefined {
  const file = path.join(root, id, 'meta.json');
  const text = readIfThere(file);
  if (!text) return undefined;
  const record = parseMeta(text.toString('utf8'), file);
  const payloads: LegacySecret['payloads'] = [];
  for (const v of record.versions) {
    if (v.state === 'DESTROYED') continue;
    const bytes = readIfThere(path.join(root, id, 'versions', String(v.version)));
    if (bytes && crc32c(bytes) === v.crc32c) payloads.push({ version: v.version, bytes: new Uint8Array(bytes) });
  }
  return { record, payloads };
}
