// Use-cases of issuers: an organisation's issuing CA, under which link CAs are minted. Its bundle
// is imported (stored like every other credential, its key included) or stays in a secret the
// organisation manages (read, never written). The issuer's status lives in an annotation of its
// secret, so reads never touch the key.
// Everything is validated before the first write (invariant 7).
import { isMeshlinkError, MeshlinkError } from '../errors.js';
import { issuerSecretId, issuerStoreLabels, ISSUER_ROLE, MANAGER, STORE_LABEL_ISSUER, STORE_LABEL_LINK, STORE_LABEL_MANAGED_BY, STORE_LABEL_ROLE } from '../link/names.js';
import { isIssuerName } from '../link/spec.js';
import { decodeState } from '../link/state.js';
import { certificateFacts, parseIssuerBundle, type CertificateFacts, type IssuerBundle } from '../pki/issuer-bundle.js';
import { z } from 'zod';
import { FOREIGN_SECRET_NAME, listAllSecrets, sameStoreForeignSecrets, type ForeignSecretReader, type SecretMetadata } from '../store/port.js';
import type { IssuerTarget } from '../rotation/facts.js';
import type { AppDeps } from './deps.js';
import { listLinkSecrets } from './link-record.js';
import { decodeIssuerBundle, encodeIssuerBundle } from './payloads.js';

/** Annotation of an issuer's secret: its IssuerRecord. */
const ANNOTATION_ISSUER = 'meshlink-issuer';

/** What is kept about an issuer (no key material): where its bundle is, and what the bundle was when last read. */
interface IssuerRecord {
  /** `bundle`: imported, stored by meshlink; `secretManager`: in a secret the organisation manages, read only. */
  type: 'bundle' | 'secretManager';
  /** bundle: version of the issuer's secret holding it. */
  version?: string;
  /** secretManager: the organisation's secret (`projects/P/secrets/S`). */
  secret?: string;
  issuingCa: CertificateFacts;
  root: CertificateFacts;
  /** The earliest notAfter of the chain: link CAs and leaves under it end by then. */
  notAfter: string;
  createdAt: string;
  updatedAt: string;
}

/** An issuer as the API shows it: what it is, when it ends, and the links under it. */
export interface IssuerStatus extends Omit<IssuerRecord, 'version'> {
  name: string;
  links: string[];
}

export interface PutIssuerResult {
  created: boolean;
  status: IssuerStatus;
}

function requireName(name: string): void {
  if (!isIssuerName(name)) {
    throw new MeshlinkError('invalid-argument', 'invalid issuer name', { details: [{ path: 'name', message: 'must be a DNS-1123 label of at most 63 characters' }] });
  }
}

function recordOf(meta: SecretMetadata): IssuerRecord | undefined {
  const raw = meta.annotations[ANNOTATION_ISSUER];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as IssuerRecord;
  } catch (cause) {
    throw new MeshlinkError('internal', `issuer record of ${meta.id} is not valid JSON`, { cause });
  }
}

async function metadataOf(deps: AppDeps, name: string): Promise<SecretMetadata | undefined> {
  try {
    return await deps.store.getSecret(issuerSecretId(deps.settings.secretPrefix, name));
  } catch (err) {
    if (isMeshlinkError(err, 'not-found')) return undefined;
    throw err;
  }
}

/** The links under each issuer, from one metadata listing of the links (no payload read). */
async function linksByIssuer(deps: AppDeps): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for await (const meta of listLinkSecrets(deps)) {
    const state = decodeState(meta.annotations, meta.id);
    // A deleted link's tombstone (app/delete.ts) holds no CA and no credential any more: it uses no issuer.
    if (!state?.issuer || state.deleted) continue;
    const link = meta.labels[STORE_LABEL_LINK] ?? meta.id;
    out.set(state.issuer, [...(out.get(state.issuer) ?? []), link].sort());
  }
  return out;
}

function statusOf(name: string, record: IssuerRecord, links: string[]): IssuerStatus {
  const { version: _version, ...rest } = record;
  return { name, ...rest, links };
}

function foreignSecrets(deps: AppDeps): ForeignSecretReader {
  return deps.foreignSecrets ?? sameStoreForeignSecrets(deps.store);
}

/** The bundle in the organisation's secret, validated at `now`. */
async function readForeignBundle(deps: AppDeps, secret: string, now: Date): Promise<IssuerBundle> {
  let payload: Uint8Array;
  try {
    payload = (await foreignSecrets(deps).readForeignSecret(secret)).payload;
  } catch (err) {
    if (!isMeshlinkError(err, 'not-found')) throw err;
    throw new MeshlinkError('invalid-argument', `secret ${secret} not found`, { cause: err, details: [{ path: 'secret', message: 'not found, or no enabled version' }] });
  }
  return parseIssuerBundle(Buffer.from(payload).toString('utf8'), now);
}

/** Where the bundle is and what it holds, before anything is written: a new record's fields. */
interface IssuerSource {
  type: IssuerRecord['type'];
  bundle: IssuerBundle;
  /** bundle: what to store; secretManager: undefined (never written). */
  payload?: Uint8Array;
  secret?: string;
}

/**
 * Records an issuer (201 created, 200 replaced or unchanged: no write). A new bundle (another
 * issuing CA, or another root) is taken at once: the links under the issuer see it at the next
 * sweep and roll over to a CA under it (rotation/checks.ts IssuerChanged), with overlapping trust
 * when the root changes.
 */
async function saveIssuer(deps: AppDeps, name: string, source: IssuerSource): Promise<PutIssuerResult> {
  const now = deps.clock();
  const id = issuerSecretId(deps.settings.secretPrefix, name);
  let meta = await metadataOf(deps, name);
  const previous = meta && recordOf(meta);
  const facts = { issuingCa: certificateFacts(source.bundle.issuing.certificate), root: certificateFacts(source.bundle.root), notAfter: source.bundle.notAfter.toISOString() };
  if (previous) {
    const same =
      previous.type === source.type &&
      (source.payload
        ? previous.version !== undefined && Buffer.from((await deps.store.accessVersion(id, previous.version)).payload).equals(Buffer.from(source.payload))
        : previous.secret === source.secret && previous.issuingCa.fingerprint === facts.issuingCa.fingerprint && previous.root.fingerprint === facts.root.fingerprint);
    if (same) return { created: false, status: statusOf(name, previous, (await linksByIssuer(deps)).get(name) ?? []) };
  }
  // A secret without a record (a crash before the first version was recorded) is taken as absent.
  meta ??= await deps.store.createSecret(id, { labels: issuerStoreLabels(name), annotations: {} }).catch(async (err: unknown) => {
    if (!isMeshlinkError(err, 'already-exists')) throw err;
    return deps.store.getSecret(id);
  });
  const version = source.payload ? await deps.store.addVersion(id, source.payload) : undefined;
  const at = now.toISOString();
  const record: IssuerRecord = {
    type: source.type,
    ...(version ? { version } : {}),
    ...(source.secret ? { secret: source.secret } : {}),
    ...facts,
    createdAt: previous?.createdAt ?? at,
    updatedAt: at,
  };
  await deps.store.updateAnnotations(id, { ...meta.annotations, [ANNOTATION_ISSUER]: JSON.stringify(record) }, meta.etag);
  if (previous?.version) await deps.store.disableVersion(id, previous.version);
  deps.log.info(previous ? 'replaced issuer' : 'created issuer', { issuer: name, secret: id, type: source.type, ...(version ? { version } : {}) });
  return { created: !previous, status: statusOf(name, record, (await linksByIssuer(deps)).get(name) ?? []) };
}

/** PUT /issuers/{name} with a PEM bundle: stored like every other credential. */
export async function putIssuerBundle(deps: AppDeps, name: string, text: string): Promise<PutIssuerResult> {
  requireName(name);
  const bundle = parseIssuerBundle(text, deps.clock());
  return saveIssuer(deps, name, { type: 'bundle', bundle, payload: encodeIssuerBundle(bundle) });
}

const reference = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('secretManager'), secret: z.string().regex(FOREIGN_SECRET_NAME, 'must be projects/P/secrets/S') }),
  z.strictObject({ type: z.literal('cas') }).passthrough(),
]);

/**
 * PUT /issuers/{name} with JSON `{"type": "secretManager", "secret": "projects/P/secrets/S"}`:
 * the bundle stays in the organisation's secret, read (now, to check it, and at every link CA
 * minted) and never written.
 */
export async function putIssuerReference(deps: AppDeps, name: string, input: unknown): Promise<PutIssuerResult> {
  requireName(name);
  const parsed = reference.safeParse(input);
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || 'type', message: issue.code === 'invalid_union' ? 'must be secretManager (or a PEM bundle as application/x-pem-file)' : issue.message }));
    throw new MeshlinkError('invalid-argument', 'invalid issuer', { details });
  }
  if (parsed.data.type === 'cas') {
    throw new MeshlinkError('invalid-argument', 'invalid issuer', { details: [{ path: 'type', message: 'cas (Google CA Service) is not supported yet' }] });
  }
  const { secret } = parsed.data;
  return saveIssuer(deps, name, { type: 'secretManager', secret, bundle: await readForeignBundle(deps, secret, deps.clock()) });
}

export async function getIssuer(deps: AppDeps, name: string): Promise<IssuerStatus> {
  requireName(name);
  const meta = await metadataOf(deps, name);
  const record = meta && recordOf(meta);
  if (!record) throw new MeshlinkError('not-found', `issuer ${name} not found`);
  return statusOf(name, record, (await linksByIssuer(deps)).get(name) ?? []);
}

/** Every issuer's record, from the metadata listing of the issuers' secrets (no payload read). */
async function* issuerRecords(deps: AppDeps): AsyncGenerator<{ name: string; record: IssuerRecord }> {
  for await (const meta of listAllSecrets(deps.store, { labels: { [STORE_LABEL_MANAGED_BY]: MANAGER, [STORE_LABEL_ROLE]: ISSUER_ROLE } })) {
    const name = meta.labels[STORE_LABEL_ISSUER];
    const record = recordOf(meta);
    if (name && record) yield { name, record };
  }
}

export async function listIssuers(deps: AppDeps): Promise<IssuerStatus[]> {
  const links = await linksByIssuer(deps);
  const out: IssuerStatus[] = [];
  for await (const { name, record } of issuerRecords(deps)) out.push(statusOf(name, record, links.get(name) ?? []));
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** DELETE /issuers/{name}: 409 while a link uses it (its CAs are minted under it). */
export async function deleteIssuer(deps: AppDeps, name: string): Promise<void> {
  requireName(name);
  const meta = await metadataOf(deps, name);
  if (!meta) throw new MeshlinkError('not-found', `issuer ${name} not found`);
  const links = (await linksByIssuer(deps)).get(name) ?? [];
  if (links.length > 0) {
    throw new MeshlinkError('conflict', `issuer ${name} is used by link(s) ${links.join(', ')}: delete them first`, { details: [{ path: 'name', message: `used by ${links.join(', ')}` }] });
  }
  await deps.store.deleteSecret(meta.id, meta.etag);
  deps.log.info('deleted issuer', { issuer: name });
}

/** A link spec's `issuer`: a 400 naming the field when there is no such issuer. */
export async function requireIssuer(deps: AppDeps, name: string): Promise<void> {
  const meta = await metadataOf(deps, name);
  if (!meta || !recordOf(meta)) {
    throw new MeshlinkError('invalid-argument', 'invalid link spec', { details: [{ path: 'issuer', message: `no issuer named ${name} (PUT /issuers/${name} imports one)` }] });
  }
}

/** What the links under an issuer must be minted under: its issuing CA, root and end, as recorded. */
function targetOf(name: string, record: IssuerRecord): IssuerTarget {
  return { name, issuing: record.issuingCa.fingerprint, root: record.root.fingerprint, notAfter: new Date(record.notAfter) };
}

/** The issuer a link names, as imported now (one metadata read); only its name when it is gone. */
export async function issuerTarget(deps: AppDeps, name: string): Promise<IssuerTarget> {
  const meta = await metadataOf(deps, name);
  const record = meta && recordOf(meta);
  return record ? targetOf(name, record) : { name };
}

/**
 * Every issuer's target, from one metadata listing, for the sweep: read once, and only when a
 * listed link has an issuer (a deployment without issuers pays nothing).
 */
export function issuerTargets(deps: AppDeps): (name: string) => Promise<IssuerTarget> {
  let all: Promise<Map<string, IssuerTarget>> | undefined;
  const load = async () => {
    const out = new Map<string, IssuerTarget>();
    for await (const { name, record } of issuerRecords(deps)) out.set(name, targetOf(name, record));
    return out;
  };
  return async (name) => (await (all ??= load())).get(name) ?? { name };
}

/**
 * The record follows the organisation's secret: a secretManager bundle read with another issuing
 * CA or root than recorded (rotated by its owner without a PUT) is recorded, so the links under the
 * issuer roll over to it as after a PUT, and a link CA minted from it is not judged against the
 * old record (which would roll it over again). A racing update (etag) already recorded it.
 */
async function followForeignBundle(deps: AppDeps, meta: SecretMetadata, record: IssuerRecord, bundle: IssuerBundle, name: string): Promise<void> {
  const facts = { issuingCa: certificateFacts(bundle.issuing.certificate), root: certificateFacts(bundle.root), notAfter: bundle.notAfter.toISOString() };
  if (facts.issuingCa.fingerprint === record.issuingCa.fingerprint && facts.root.fingerprint === record.root.fingerprint) return;
  const updated: IssuerRecord = { ...record, ...facts, updatedAt: deps.clock().toISOString() };
  try {
    await deps.store.updateAnnotations(meta.id, { ...meta.annotations, [ANNOTATION_ISSUER]: JSON.stringify(updated) }, meta.etag);
    deps.log.info('issuer secret holds a new bundle; recorded', { issuer: name, secret: meta.id });
  } catch (err) {
    if (!isMeshlinkError(err, 'conflict')) throw err;
  }
}

/** The bundle a link CA is minted under (its key: read only to sign). */
export async function readIssuerBundle(deps: AppDeps, name: string): Promise<IssuerBundle> {
  const meta = await metadataOf(deps, name);
  const record = meta && recordOf(meta);
  if (!record) throw new MeshlinkError('not-found', `issuer ${name} not found`);
  if (record.type === 'secretManager') {
    const bundle = await readForeignBundle(deps, record.secret!, deps.clock());
    await followForeignBundle(deps, meta, record, bundle, name);
    return bundle;
  }
  const { payload } = await deps.store.accessVersion(meta.id, record.version!);
  return decodeIssuerBundle(payload, `${meta.id} version ${record.version}`);
}
