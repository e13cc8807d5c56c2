// Use-cases of issuers: an organisation's issuing CA, under which link CAs are minted. Its bundle
// is imported (stored like every other credential, its key included) or stays in a secret the
// organisation manages (read, never written), or Google CA Service issues the leaves from a CA
// pool (no key of the organisation reaches meshlink). The issuer's status lives in an annotation
// of its secret, so reads never touch the key.
// Everything is validated before the first write (invariant 7).
import { isMeshlinkError, MeshlinkError } from '../errors.js';
import { issuerSecretId, issuerStoreLabels, ISSUER_ROLE, MANAGER, STORE_LABEL_ISSUER, STORE_LABEL_LINK, STORE_LABEL_MANAGED_BY, STORE_LABEL_ROLE } from '../link/names.js';
import { isIssuerName } from '../link/spec.js';
import { decodeJsonAnnotation, decodeState } from '../link/state.js';
import { certificateFacts, parseIssuerBundle, type CertificateFacts, type IssuerBundle } from '../pki/issuer-bundle.js';
import { poolRoots } from '../pki/pool-trust.js';
import { CA_POOL_NAME, type CertificateAuthorityService } from '../cas/port.js';
import * as z from 'zod';
import { FOREIGN_SECRET_NAME, listAllSecrets, sameStoreForeignSecrets, type ForeignSecretReader, type SecretMetadata } from '../store/port.js';
import type { IssuerTarget } from '../rotation/facts.js';
import type { AppDeps } from './deps.js';
import { listLinkSecrets } from './link-record.js';
import { decodeIssuerBundle, encodeIssuerBundle } from './payloads.js';

/** Annotation of an issuer's secret: its IssuerRecord. */
const ANNOTATION_ISSUER = 'meshlink-issuer';

/** What is kept about an issuer (no key material): where its bundle is, and what the bundle was when last read. */
interface IssuerRecord {
  /**
   * `bundle`: imported, stored by meshlink; `secretManager`: in a secret the organisation manages,
   * read only; `cas`: a Google CA Service pool issues the leaves.
   */
  type: 'bundle' | 'secretManager' | 'cas';
  /** bundle: version of the issuer's secret holding it. */
  version?: string;
  /** secretManager: the organisation's secret (`projects/P/secrets/S`). */
  secret?: string;
  /** cas: the pool (`projects/P/locations/L/caPools/X`). */
  caPool?: string;
  /** bundle, secretManager: the issuing CA and the root. */
  issuingCa?: CertificateFacts;
  root?: CertificateFacts;
  /** cas: the pool's roots when last fetched (FetchCaCerts). */
  roots?: CertificateFacts[];
  /** The earliest notAfter of the chain (cas: of the pool's roots): link CAs and leaves under it end by then. */
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
  return decodeJsonAnnotation<IssuerRecord>(meta.annotations, ANNOTATION_ISSUER, `issuer record of ${meta.id}`);
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

/** Where the issuer's CAs are and what they are, before anything is written: a new record's fields. */
interface IssuerSource {
  type: IssuerRecord['type'];
  facts: Pick<IssuerRecord, 'issuingCa' | 'root' | 'roots' | 'notAfter'>;
  /** bundle: what to store; secretManager, cas: undefined (nothing of theirs is written). */
  payload?: Uint8Array;
  secret?: string;
  caPool?: string;
}

function bundleFacts(bundle: IssuerBundle): IssuerSource['facts'] {
  return { issuingCa: certificateFacts(bundle.issuing.certificate), root: certificateFacts(bundle.root), notAfter: bundle.notAfter.toISOString() };
}

/** What links under an issuer anchor to: its root, or for a CA pool the pool (its roots may change; links take them at their next CA). */
function anchorOf(record: Pick<IssuerRecord, 'root' | 'caPool'>): string {
  return record.caPool ? `pool ${record.caPool}` : `root ${record.root?.subject}`;
}

const sameAnchor = (a: Pick<IssuerRecord, 'root' | 'caPool'>, b: Pick<IssuerRecord, 'root' | 'caPool'>) =>
  (a.caPool ?? a.root?.fingerprint) === (b.caPool ?? b.root?.fingerprint);

const fingerprints = (facts: Pick<IssuerRecord, 'issuingCa' | 'root' | 'roots'>) =>
  [facts.issuingCa, facts.root, ...(facts.roots ?? [])].map((f) => f?.fingerprint ?? '').join(',');

/**
 * Records an issuer (201 created, 200 replaced or unchanged: no write). A new bundle (another
 * issuing CA, or another root) is taken at once: the links under the issuer see it at the next
 * sweep and roll over to a CA under it (rotation/checks.ts IssuerChanged), with overlapping trust
 * when the root changes. Another CA pool, or a change to or from a pool, is refused (409) while
 * links use the issuer: a rollover between pools is not built.
 */
async function saveIssuer(deps: AppDeps, name: string, source: IssuerSource): Promise<PutIssuerResult> {
  const now = deps.clock();
  const id = issuerSecretId(deps.settings.secretPrefix, name);
  let meta = await metadataOf(deps, name);
  const previous = meta && recordOf(meta);
  const { facts } = source;
  if (previous) {
    const same =
      previous.type === source.type &&
      (source.payload
        ? previous.version !== undefined && Buffer.from((await deps.store.accessVersion(id, previous.version)).payload).equals(Buffer.from(source.payload))
        : previous.secret === source.secret && previous.caPool === source.caPool && fingerprints(previous) === fingerprints(facts));
    const links = (await linksByIssuer(deps)).get(name) ?? [];
    if (same) return { created: false, status: statusOf(name, previous, links) };
    const next = { ...facts, ...(source.caPool ? { caPool: source.caPool } : {}) };
    if ((previous.caPool || source.caPool) && !sameAnchor(previous, next) && links.length > 0) {
      const path = source.caPool ? 'caPool' : source.payload ? 'bundle' : 'secret';
      throw new MeshlinkError('conflict', `issuer ${name} is used by link(s) ${links.join(', ')}: its CA pool cannot change, nor the issuer become or stop being a pool, while links use it`, {
        details: [{ path, message: `${anchorOf(next)} differs from ${anchorOf(previous)}, which links ${links.join(', ')} trust` }],
      });
    }
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
    ...(source.caPool ? { caPool: source.caPool } : {}),
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
  return saveIssuer(deps, name, { type: 'bundle', facts: bundleFacts(bundle), payload: encodeIssuerBundle(bundle) });
}

const reference = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('secretManager'), secret: z.string().regex(FOREIGN_SECRET_NAME, 'must be projects/P/secrets/S') }),
  z.strictObject({ type: z.literal('cas'), caPool: z.string().regex(CA_POOL_NAME, 'must be projects/P/locations/L/caPools/X') }),
]);

export function casOf(deps: AppDeps): CertificateAuthorityService {
  if (!deps.cas) throw new MeshlinkError('internal', 'no CA Service client is configured');
  return deps.cas;
}

/**
 * The roots of a pool, fetched now (FetchCaCerts): what links under it trust. A pool that does
 * not exist is bad input naming `caPool`; one meshlink may not read, a 403 naming it.
 */
export async function fetchPoolRoots(deps: AppDeps, caPool: string): Promise<string[]> {
  let chains: string[][];
  try {
    chains = await casOf(deps).fetchCaCerts(caPool);
  } catch (err) {
    if (isMeshlinkError(err, 'not-found')) throw new MeshlinkError('invalid-argument', `CA pool ${caPool} not found`, { cause: err, details: [{ path: 'caPool', message: 'not found' }] });
    if (isMeshlinkError(err, 'permission-denied')) {
      throw new MeshlinkError('permission-denied', `CA pool ${caPool}: permission denied`, { cause: err, details: [{ path: 'caPool', message: 'meshlink may not use this pool: grant its service account roles/privateca.certificateRequester and read access (roles/privateca.auditor) on it' }] });
    }
    throw err;
  }
  return poolRoots(chains);
}

function poolFacts(roots: string[]): IssuerSource['facts'] {
  const facts = roots.map(certificateFacts);
  return { roots: facts, notAfter: facts.map((f) => f.notAfter).reduce((a, b) => (b < a ? b : a)) };
}

/**
 * PUT /issuers/{name} with JSON `{"type": "secretManager", "secret": "projects/P/secrets/S"}`:
 * the bundle stays in the organisation's secret, read (now, to check it, and at every link CA
 * minted) and never written.
 */
export async function putIssuerReference(deps: AppDeps, name: string, input: unknown): Promise<PutIssuerResult> {
  requireName(name);
  const parsed = reference.safeParse(input);
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || 'type', message: issue.code === 'invalid_union' ? 'must be secretManager or cas (or a PEM bundle as application/x-pem-file)' : issue.message }));
    throw new MeshlinkError('invalid-argument', 'invalid issuer', { details });
  }
  if (parsed.data.type === 'cas') {
    const { caPool } = parsed.data;
    return saveIssuer(deps, name, { type: 'cas', caPool, facts: poolFacts(await fetchPoolRoots(deps, caPool)) });
  }
  const { secret } = parsed.data;
  return saveIssuer(deps, name, { type: 'secretManager', secret, facts: bundleFacts(await readForeignBundle(deps, secret, deps.clock())) });
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
  // A pool's links follow the pool's roots at their own CA rollovers: only the name is a target.
  if (record.caPool) return { name };
  return { name, issuing: record.issuingCa!.fingerprint, root: record.root!.fingerprint, notAfter: new Date(record.notAfter) };
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
  if (facts.issuingCa.fingerprint === record.issuingCa?.fingerprint && facts.root.fingerprint === record.root?.fingerprint) return;
  const updated: IssuerRecord = { ...record, ...facts, updatedAt: deps.clock().toISOString() };
  try {
    await deps.store.updateAnnotations(meta.id, { ...meta.annotations, [ANNOTATION_ISSUER]: JSON.stringify(updated) }, meta.etag);
    deps.log.info('issuer secret holds a new bundle; recorded', { issuer: name, secret: meta.id });
  } catch (err) {
    if (!isMeshlinkError(err, 'conflict')) throw err;
  }
}

/** What a link's CA generation is made under: an issuing CA's bundle (its key: read only to sign), or a CA pool. */
export type IssuerSigner = { type: 'bundle'; bundle: IssuerBundle } | { type: 'cas'; caPool: string };

export async function readIssuerSigner(deps: AppDeps, name: string): Promise<IssuerSigner> {
  const meta = await metadataOf(deps, name);
  const record = meta && recordOf(meta);
  if (!record) throw new MeshlinkError('not-found', `issuer ${name} not found`);
  if (record.type === 'cas') return { type: 'cas', caPool: record.caPool! };
  return { type: 'bundle', bundle: await readIssuerBundle(deps, meta, record, name) };
}

async function readIssuerBundle(deps: AppDeps, meta: SecretMetadata, record: IssuerRecord, name: string): Promise<IssuerBundle> {
  if (record.type === 'secretManager') {
    const bundle = await readForeignBundle(deps, record.secret!, deps.clock());
    await followForeignBundle(deps, meta, record, bundle, name);
    return bundle;
  }
  const { payload } = await deps.store.accessVersion(meta.id, record.version!);
  return decodeIssuerBundle(payload, `${meta.id} version ${record.version}`);
}
