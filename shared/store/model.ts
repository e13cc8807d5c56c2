// The secret store's semantic core: validation, etags, version states and paged listing on plain
// records. Shared by the in-memory and file stores and by the Secret Manager test fake, so the
// rules live in one place.
import { randomBytes } from 'node:crypto';
import { MeshlinkError } from '../errors.js';
import type { ListQuery, SecretMetadata, SecretPage, SecretVersionInfo, VersionState } from './port.js';
import { setBounded } from '../bounded-map.js';

/** Secret Manager's listing limits (reference/google-cloud.md §1). */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 25_000;
/** Secret Manager's payload limit per version. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

export interface VersionRecord {
  version: number;
  state: VersionState;
  createTime: string;
  /** CRC32C of the payload, checked on every read. */
  crc32c: number;
}

/** Everything about a secret except its payloads; versions in ascending order. */
export interface SecretRecord extends SecretMetadata {
  versions: VersionRecord[];
}

const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;
const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;
const ANNOTATION_KEY = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const MAX_LABELS = 64;
const MAX_ANNOTATION_BYTES = 16 * 1024;
const VERSION_NUMBER = /^[1-9][0-9]{0,15}$/;

function invalid(message: string, path: string): MeshlinkError {
  return new MeshlinkError('invalid-argument', message, { details: [{ path, message }] });
}

/** Also keeps ids safe as file names: no dots, no slashes. */
export function validateSecretId(id: string): void {
  if (!SECRET_ID.test(id)) throw invalid(`invalid secret id ${JSON.stringify(id)}: 1-255 of [A-Za-z0-9_-]`, 'id');
}

export function validateLabels(labels: Record<string, string>, path = 'labels'): void {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) throw invalid(`at most ${MAX_LABELS} labels`, path);
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key) || Buffer.byteLength(key) > 128) throw invalid(`invalid label key ${JSON.stringify(key)}`, `${path}.${key}`);
    if (typeof value !== 'string' || !LABEL_VALUE.test(value) || Buffer.byteLength(value) > 128) {
      throw invalid(`invalid value for label ${key}: lowercase letters, digits, _ and - only`, `${path}.${key}`);
    }
  }
}

export function validateAnnotations(annotations: Record<string, string>): void {
  let bytes = 0;
  for (const [key, value] of Object.entries(annotations)) {
    if (!ANNOTATION_KEY.test(key)) throw invalid(`invalid annotation key ${JSON.stringify(key)}`, `annotations.${key}`);
    if (typeof value !== 'string') throw invalid(`annotation ${key} must be a string`, `annotations.${key}`);
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (bytes >= MAX_ANNOTATION_BYTES) throw invalid(`annotations total ${bytes} bytes, must be under ${MAX_ANNOTATION_BYTES}`, 'annotations');
}

export function validatePayload(payload: Uint8Array): void {
  if (payload.byteLength > MAX_PAYLOAD_BYTES) throw invalid(`payload of ${payload.byteLength} bytes exceeds ${MAX_PAYLOAD_BYTES}`, 'payload');
}

/** An explicit precondition must be a real etag: an empty one would silently skip the check. */
export function requireEtag(etag: string): void {
  if (etag === '') throw invalid('etag must not be empty', 'etag');
}

/** A fresh etag; like Secret Manager's, the string carries literal double quotes. */
export function newEtag(): string {
  return `"${randomBytes(8).toString('hex')}"`;
}

/** Parses a version argument: a decimal number, or `latest` where allowed. */
export function parseVersion(version: string, allowLatest: boolean): number | 'latest' {
  if (version === 'latest' && allowLatest) return 'latest';
  if (!VERSION_NUMBER.test(version)) throw invalid(`invalid version ${JSON.stringify(version)}`, 'version');
  return Number(version);
}

export function createRecord(id: string, meta: { labels: Record<string, string>; annotations: Record<string, string> }, now: Date): SecretRecord {
  validateSecretId(id);
  validateLabels(meta.labels);
  validateAnnotations(meta.annotations);
  return { id, labels: { ...meta.labels }, annotations: { ...meta.annotations }, etag: newEtag(), createTime: now.toISOString(), versions: [] };
}

/** A copy of the metadata, so callers can never alias stored state. */
export function toMetadata(record: SecretMetadata): SecretMetadata {
  return { id: record.id, labels: { ...record.labels }, annotations: { ...record.annotations }, etag: record.etag, createTime: record.createTime };
}

export function cloneRecord(record: SecretRecord): SecretRecord {
  return { ...toMetadata(record), versions: record.versions.map((v) => ({ ...v })) };
}

/** Throws `conflict` when a given etag is stale; `undefined` skips the check. */
export function checkEtag(record: SecretRecord, etag: string | undefined): void {
  if (etag === undefined) return;
  requireEtag(etag);
  if (etag !== record.etag) throw new MeshlinkError('conflict', `secret ${record.id} changed since it was read (etag mismatch)`);
}

/** Replaces the annotations under an etag precondition; the etag changes even if nothing else does. */
export function withAnnotations(record: SecretRecord, annotations: Record<string, string>, etag: string | undefined): SecretRecord {
  checkEtag(record, etag);
  validateAnnotations(annotations);
  return { ...cloneRecord(record), annotations: { ...annotations }, etag: newEtag() };
}

/** Appends the next version (numbers are never reused: destroyed versions keep theirs). */
export function withNewVersion(record: SecretRecord, crc: number, now: Date): { record: SecretRecord; version: VersionRecord } {
  const version: VersionRecord = { version: record.versions.length + 1, state: 'ENABLED', createTime: now.toISOString(), crc32c: crc };
  const next = cloneRecord(record);
  next.versions.push(version);
  return { record: next, version: { ...version } };
}

function versionNotFound(record: SecretRecord, version: string | number): MeshlinkError {
  return new MeshlinkError('not-found', `secret ${record.id} has no version ${version}`);
}

export function findVersion(record: SecretRecord, version: number): VersionRecord {
  const found = record.versions[version - 1];
  if (!found) throw versionNotFound(record, version);
  return found;
}

/** The version a read gets: `latest` is the newest ENABLED one; any other must be ENABLED. */
export function readableVersion(record: SecretRecord, version: string): VersionRecord {
  const wanted = parseVersion(version, true);
  if (wanted === 'latest') {
    const newest = record.versions.findLast((v) => v.state === 'ENABLED');
    if (!newest) throw new MeshlinkError('not-found', `secret ${record.id} has no enabled version`);
    return newest;
  }
  const found = findVersion(record, wanted);
  if (found.state !== 'ENABLED') throw new MeshlinkError('not-found', `version ${wanted} of secret ${record.id} is ${found.state}`);
  return found;
}

/**
 * Moves a version to `state`. Idempotent; a DESTROYED version stays DESTROYED whatever is asked,
 * except that enabling it is a `conflict` (its payload is gone).
 */
export function withVersionState(record: SecretRecord, version: number, state: VersionState): SecretRecord {
  const current = findVersion(record, version);
  if (current.state === state) return record;
  if (current.state === 'DESTROYED') {
    if (state === 'ENABLED') throw new MeshlinkError('conflict', `version ${version} of secret ${record.id} is destroyed`);
    return record;
  }
  const next = cloneRecord(record);
  next.versions[version - 1]!.state = state;
  return next;
}

export function versionInfos(record: SecretRecord): SecretVersionInfo[] {
  return record.versions
    .map((v) => ({ version: String(v.version), state: v.state, createTime: v.createTime }))
    .reverse();
}

export function matchesLabels(labels: Record<string, string>, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v);
}

/** Newest first by createTime, then by id: the order of every listing. */
export function compareNewestFirst(a: { createTime: string; id: string }, b: { createTime: string; id: string }): number {
  const dt = Date.parse(b.createTime) - Date.parse(a.createTime);
  if (dt !== 0) return dt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

interface Cursor {
  t: string;
  i: string;
}

function encodeCursor(item: { createTime: string; id: string }): string {
  return Buffer.from(JSON.stringify({ t: item.createTime, i: item.id } satisfies Cursor)).toString('base64url');
}

function decodeCursor(token: string): Cursor {
  try {
    const cursor = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<Cursor>;
    if (typeof cursor.t === 'string' && typeof cursor.i === 'string' && !Number.isNaN(Date.parse(cursor.t))) return { t: cursor.t, i: cursor.i };
  } catch {
    // fall through: reported below
  }
  throw invalid('invalid page token', 'pageToken');
}

export function effectivePageSize(pageSize: number | undefined): number {
  if (pageSize === undefined || pageSize === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 0) throw invalid(`invalid page size ${pageSize}`, 'pageSize');
  return Math.min(pageSize, MAX_PAGE_SIZE);
}

/** A label-filtered listing's matches, newest first: what every page of it is cut from. */
function matchingSorted(all: Iterable<SecretMetadata>, labels: Record<string, string>): SecretMetadata[] {
  const matching: SecretMetadata[] = [];
  for (const s of all) if (matchesLabels(s.labels, labels)) matching.push(s);
  return matching.sort(compareNewestFirst);
}

/** The page of a sorted listing from index `from`, and the matches left after it. */
function cut(matching: SecretMetadata[], from: number, size: number): { page: SecretPage; rest?: SecretMetadata[] } {
  const secrets = matching.slice(from, from + size).map(toMetadata);
  const last = secrets.at(-1);
  if (matching.length <= from + size || !last) return { page: { secrets } };
  return { page: { secrets, nextPageToken: encodeCursor(last) }, rest: matching.slice(from + size) };
}

function validateQuery(query: ListQuery): { size: number; cursor?: Cursor } {
  validateLabels(query.labels, 'query.labels');
  const size = effectivePageSize(query.pageSize);
  return query.pageToken ? { size, cursor: decodeCursor(query.pageToken) } : { size };
}

/**
 * One page of a label-filtered listing. The token is a keyset cursor (the last item's createTime
 * and id), so secrets created or deleted between pages neither shift nor repeat the others.
 */
function pageAfter(all: Iterable<SecretMetadata>, labels: Record<string, string>, size: number, cursor: Cursor | undefined) {
  const matching = matchingSorted(all, labels);
  const from = cursor ? matching.findIndex((s) => compareNewestFirst({ createTime: cursor.t, id: cursor.i }, s) < 0) : 0;
  return cut(matching, from < 0 ? matching.length : from, size);
}

/**
 * Listings whose every page would otherwise read every record (the file store parses each
 * meta.json, so paging through N secrets cost pages x N reads, quadratic in the links). The first
 * page reads all records once and keeps the remaining matches under its page token for a short
 * while; a continuation found here is cut from them, one not found (expired, another process)
 * falls back to reading all records with the keyset cursor. A continuation thus shows the records
 * as they were at the first page: a sweep re-reads each link it acts on, so that is enough.
 */
export class ListingSnapshots {
  private readonly kept = new Map<string, { rest: SecretMetadata[]; until: number }>();

  constructor(
    private readonly ttlMs = 60_000,
    private readonly maxListings = 32,
  ) {}

  async page(query: ListQuery, readAll: () => Promise<Iterable<SecretMetadata>>, now = Date.now()): Promise<SecretPage> {
    const { size, cursor } = validateQuery(query);
    const key = (token: string) => `${token} ${canonicalLabels(query.labels)}`;
    const kept = query.pageToken ? this.take(key(query.pageToken), now) : undefined;
    const result = kept ? cut(kept, 0, size) : pageAfter(await readAll(), query.labels, size, cursor);
    if (result.rest && result.page.nextPageToken) this.keep(key(result.page.nextPageToken), result.rest, now);
    return result.page;
  }

  private take(key: string, now: number): SecretMetadata[] | undefined {
    const entry = this.kept.get(key);
    this.kept.delete(key);
    return entry && entry.until > now ? entry.rest : undefined;
  }

  private keep(key: string, rest: SecretMetadata[], now: number): void {
    for (const [k, v] of this.kept) if (v.until <= now) this.kept.delete(k);
    setBounded(this.kept, this.maxListings, key, { rest, until: now + this.ttlMs });
  }
}

function canonicalLabels(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
