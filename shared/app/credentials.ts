// Store operations on a link's CA and leaf credentials. Each write is followed by a state save;
// a crash between the two leaves a version the state does not name yet, which the next run
// adopts instead of minting again (invariants 2 and 5: no second CA, no extra version). A version
// it cannot adopt (the plan changed meanwhile), or one an older crash left, is returned as an
// orphan, for the caller to retire with the step's save.
import { isMeshlinkError, MeshlinkError } from '../errors.js';
import type { LinkSpec } from '../link/spec.js';
import { sideIdentity, storeLabels, storeSecretId, type Side, type StoreRole } from '../link/names.js';
import { knownVersions, type CaRecord, type LeafRecord, type LinkState, type RetiredVersion } from '../link/state.js';
import { mintCa, mintedSummary, mintLeaf } from '../pki/mint.js';
import { chainsToAny, inspectCertificate, joinPemBundle, keyMatchesCertificate, splitPemBundle } from '../pki/inspect.js';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createLeafRequest } from '../pki/csr.js';
import { presentedChain } from '../pki/pool-trust.js';
import type { CertificateSummary, CredentialPem, SdsCredential } from '../pki/types.js';
import { certificateFacts } from '../pki/issuer-bundle.js';
import type { SecretVersionInfo } from '../store/port.js';
import { decodeCa, decodeCredential, encodeCa, encodeCredential, type LinkCa, type PoolGeneration } from './payloads.js';
import { casOf, fetchPoolRoots, readIssuerSigner } from './issuers.js';
import type { AppDeps } from './deps.js';

export function secretIdOf(deps: AppDeps, link: string, role: StoreRole): string {
  return storeSecretId(deps.settings.secretPrefix, link, role);
}

/** Deletes the link's CA and leaf secrets (every version): a deleted or discarded link's keys go at once. Idempotent. */
export async function dropCredentials(deps: AppDeps, link: string): Promise<void> {
  for (const role of ['client', 'server', 'ca'] as const) {
    try {
      await deps.store.deleteSecret(secretIdOf(deps, link, role));
    } catch (err) {
      if (!isMeshlinkError(err, 'not-found')) throw err;
    }
  }
}

/**
 * The role's versions, creating its secret when there is none (a new link, or one deleted by hand;
 * the link secret of a new link whose spec is a version, stored-spec.ts):
 * the version list is read before every store write anyway, so a secret that exists costs no
 * CreateSecret (a write, against Secret Manager's per-minute quota).
 */
export async function versionsCreating(deps: AppDeps, link: string, role: StoreRole): Promise<SecretVersionInfo[]> {
  const id = secretIdOf(deps, link, role);
  try {
    return await deps.store.listVersions(id);
  } catch (err) {
    if (!isMeshlinkError(err, 'not-found')) throw err;
  }
  try {
    await deps.store.createSecret(id, { labels: storeLabels(link, role), annotations: {} });
  } catch (err) {
    if (!isMeshlinkError(err, 'already-exists')) throw err;
    return deps.store.listVersions(id); // a racing run created it
  }
  return [];
}

/** What a store write gives back: the record for the state, and the versions to retire with it. */
export interface Stored<T> {
  record: T;
  /** Versions of the secret the state neither uses nor retires (left by crashed runs), the adopted one excepted. */
  orphans: string[];
}

/**
 * Reads the role's version list (metadata, one call, made before every store write anyway):
 * `candidate` is the newest ENABLED version newer than `after` that the state does not name, which
 * an interrupted run may have stored; `orphans` are all versions not destroyed that the state
 * neither uses nor retires.
 */
async function unrecordedVersions(deps: AppDeps, link: string, state: LinkState, role: RetiredVersion['role'], after: string | undefined, listed?: SecretVersionInfo[]): Promise<{ candidate?: string; orphans: string[] }> {
  const known = knownVersions(state, role);
  const orphans = (listed ?? (await versionsCreating(deps, link, role))).filter((v) => v.state !== 'DESTROYED' && !known.has(v.version));
  const newest = orphans.find((v) => v.state === 'ENABLED');
  const candidate = newest && (after === undefined || Number(newest.version) > Number(after)) ? newest.version : undefined;
  return { ...(candidate ? { candidate } : {}), orphans: orphans.map((v) => v.version) };
}

/** The orphans left once `adopted` is taken (logged: a crashed run stored them). */
function leftOver(deps: AppDeps, link: string, id: string, orphans: string[], adopted?: string): string[] {
  const left = orphans.filter((v) => v !== adopted);
  if (left.length > 0) deps.log.warn('retiring store versions no run recorded', { link, secret: id, versions: left });
  return left;
}

export async function readCa(deps: AppDeps, link: string, version: string): Promise<LinkCa> {
  const id = secretIdOf(deps, link, 'ca');
  const { payload } = await deps.store.accessVersion(id, version);
  return decodeCa(payload, `${id} version ${version}`);
}

/**
 * The CAs a request already holds, by the state's record of them: a create's CA, just minted, signs
 * both leaves and fills both sides' trust without a store read, and one object means one parse of
 * its key (mint.ts remembers issuers by object; decoding the key's PEM costs more than a leaf).
 * Keyed by the record object, so an entry lives no longer than the state naming it: one request.
 */
const heldCas = new WeakMap<CaRecord, { version: string; ca: LinkCa }>();

function holdCa(record: CaRecord, ca: LinkCa): void {
  heldCas.set(record, { version: record.version, ca });
}

/** The CA of a state's record: the one this request holds, else read from the store (once). */
async function caOf(deps: AppDeps, link: string, record: CaRecord): Promise<LinkCa> {
  const held = heldCas.get(record);
  if (held?.version === record.version) return held.ca;
  const ca = await readCa(deps, link, record.version);
  holdCa(record, ca);
  return ca;
}

export async function readCredential(deps: AppDeps, link: string, side: Side, version = 'latest'): Promise<{ version: string; credential: SdsCredential }> {
  const id = secretIdOf(deps, link, side);
  const accessed = await deps.store.accessVersion(id, version);
  return { version: accessed.version, credential: decodeCredential(accessed.payload, `${id} version ${accessed.version}`) };
}

/**
 * The record of a CA version: the certificate read (a CA that cannot be read is never stored: see
 * storeNewCa), under an issuer with the fingerprints of its roots and of the issuing CA that
 * signed it (the first of the chain, or the root when the root issues) and the issuer's name.
 */
function caRecord(version: string, ca: LinkCa, generation: number, now: Date, issuer: string | undefined, summary?: CertificateSummary): CaRecord {
  if (ca.caPool !== undefined) return poolRecord(version, ca, generation, now);
  const s = summary ?? inspectCertificate(ca.certificate);
  const origin = ca.roots
    ? {
        anchors: splitPemBundle(ca.roots).map((root) => certificateFacts(root).fingerprint),
        issuing: certificateFacts(ca.chain || ca.roots).fingerprint,
        ...(issuer ? { issuer } : {}),
      }
    : {};
  return { generation, version, notBefore: s.notBefore.toISOString(), notAfter: s.notAfter.toISOString(), fingerprint: s.fingerprint, ...origin };
}

/**
 * The record of a pool generation: it starts when made and ends with the pool's first root, so
 * its renewal (a rollover that fetches the pool's roots again) comes at the spec's share of the
 * time left, not at once for a root made years ago. Its fingerprint is its first root's.
 */
function poolRecord(version: string, ca: PoolGeneration, generation: number, now: Date): CaRecord {
  const roots = splitPemBundle(ca.roots).map(certificateFacts);
  const notAfter = roots.map((r) => r.notAfter).reduce((a, b) => (b < a ? b : a));
  return { generation, version, notBefore: now.toISOString(), notAfter, fingerprint: roots[0]!.fingerprint, anchors: roots.map((r) => r.fingerprint) };
}

/** What minting the link's CA of `generation` asks, but for an issuing parent. */
function caRequest(spec: LinkSpec, generation: number, now: Date) {
  return { link: spec.name, host: spec.host, keyAlgorithm: spec.certificates.keyAlgorithm, ttlMs: spec.certificates.caTtlMs, now, generation };
}

/**
 * Mints a link CA: self-signed, or under the spec's issuer, with the chain and roots its leaves
 * need; under a CA pool, no CA: the generation is the pool's roots as fetched now.
 */
async function mintLinkCa(deps: AppDeps, spec: LinkSpec, generation: number, now: Date): Promise<LinkCa> {
  const request = caRequest(spec, generation, now);
  if (!spec.issuer) return mintCa(request);
  const signer = await readIssuerSigner(deps, spec.issuer);
  if (signer.type === 'cas') {
    const roots = joinPemBundle(await fetchPoolRoots(deps, signer.caPool));
    return { caPool: signer.caPool, certificate: roots, roots };
  }
  const { bundle } = signer;
  const ca = await mintCa({ ...request, parent: { ca: bundle.issuing, notAfter: bundle.notAfter } });
  // The minted object itself, not a copy: the mint knows it (its read-back, its key as a signer).
  return Object.assign(ca, { chain: bundle.chain, roots: bundle.root });
}

/** A side's leaf, minted by the link's CA under the spec's key algorithm and lifetime. */
function mintSideLeaf(spec: LinkSpec, side: Side, ca: CredentialPem, now: Date): Promise<CredentialPem> {
  return mintLeaf({ ca, link: spec.name, host: spec.host, side, keyAlgorithm: spec.certificates.keyAlgorithm, ttlMs: spec.certificates.leafTtlMs, now });
}

/** A new link's CA and the leaves it signs, minted ahead of their store writes (mintAhead). */
export interface MintedAhead {
  ca: Promise<CredentialPem>;
  leaves: Map<Side, Promise<CredentialPem>>;
}

/** `work` on a later turn of the event loop, once the I/O started before it is under way. */
function nextTurn<T>(work: () => Promise<T>): Promise<T> {
  return new Promise<void>((resolve) => setImmediate(resolve)).then(work);
}

/**
 * Mints a new link's self-signed CA (generation 1) and its leaves while its first writes (claims,
 * creation lease) wait on the store: minting is CPU only, and the event loop is idle in those
 * waits. Nothing is written: a refused create leaves no trace, and a create that adopts versions a
 * crashed run stored does not use them (storeNewCa, storeNewLeaf). Under an issuer the CA's signer
 * is read and a CA pool issues remotely: minted in turn, as before.
 */
export function mintAhead(spec: LinkSpec, sides: readonly Side[], now: Date): MintedAhead | undefined {
  if (spec.issuer) return undefined;
  const ca = nextTurn(() => mintCa(caRequest(spec, 1, now)));
  const leaves = new Map(sides.map((side) => [side, ca.then((minted) => nextTurn(() => mintSideLeaf(spec, side, minted, now)))] as const));
  // A create that stops before its CA never asks for them: their failures are its own.
  for (const minted of [ca, ...leaves.values()]) minted.catch(() => {});
  return { ca, leaves };
}

/**
 * Adds a CA generation to the store (or adopts one a crashed run stored) and returns its record.
 * The caller puts it in the state and saves. `ahead`: the CA minted ahead (mintAhead), used unless
 * a stored one is adopted.
 */
export async function storeNewCa(deps: AppDeps, state: LinkState, spec: LinkSpec, generation: number, now: Date, ahead?: Promise<LinkCa>): Promise<Stored<CaRecord>> {
  const id = secretIdOf(deps, spec.name, 'ca');
  const newestKnown = state.cas.reduce<string | undefined>((max, ca) => (max === undefined || Number(ca.version) > Number(max) ? ca.version : max), undefined);
  const { candidate, orphans } = await unrecordedVersions(deps, spec.name, state, 'ca', newestKnown);
  if (candidate) {
    const ca = await readCa(deps, spec.name, candidate);
    const summary = inspectCertificate(ca.certificate);
    if (summary.isCa && summary.notAfter > now) {
      deps.log.info('adopting CA version stored by an interrupted run', { link: spec.name, secret: id, version: candidate });
      const record = caRecord(candidate, ca, generation, now, spec.issuer);
      holdCa(record, ca);
      return { record, orphans: leftOver(deps, spec.name, id, orphans, candidate) };
    }
  }
  const ca = await (ahead ?? mintLinkCa(deps, spec, generation, now));
  // Read back before it is stored, with the parser every later read uses: a failed mint stores
  // nothing. The mint did so for a CA it minted (mintedSummary); a pool's roots are read here.
  const summary = mintedSummary(ca) ?? inspectCertificate(ca.certificate);
  if (!summary.isCa || summary.notAfter <= now) throw new MeshlinkError('internal', `minted CA of link ${spec.name} does not read back as a valid CA`);
  const version = await deps.store.addVersion(id, encodeCa(ca));
  deps.log.info('stored new link CA', { link: spec.name, secret: id, version, generation, ...(spec.issuer ? { issuer: spec.issuer } : {}) });
  const record = caRecord(version, ca, generation, now, spec.issuer, summary);
  holdCa(record, ca);
  return { record, orphans: leftOver(deps, spec.name, id, orphans) };
}

/** The PEM bundle of the given CA generations (what a side's `ca.crt` holds): each CA, or its roots under an issuer. */
export async function caBundle(deps: AppDeps, link: string, state: LinkState, generations: number[]): Promise<string> {
  const pems: string[] = [];
  for (const generation of generations) {
    const record = state.cas.find((ca) => ca.generation === generation);
    if (!record) throw new MeshlinkError('internal', `link ${link} has no CA generation ${generation}`);
    const ca = await caOf(deps, link, record);
    pems.push(ca.roots ?? ca.certificate);
  }
  return joinPemBundle(pems);
}

/** The partner's CA bundle a side trusts, when its peer is the partner's side (`external`). */
export function partnerBundle(spec: LinkSpec, side: Side): string | undefined {
  const peer = spec[side === 'server' ? 'client' : 'server'];
  return 'external' in peer ? joinPemBundle([peer.external.caCertificates]) : undefined;
}

/** A short digest of a partner bundle, kept on the leaf record: a changed bundle in the spec is republished. */
export function bundleDigest(bundle: string): string {
  return createHash('sha256').update(bundle).digest('hex').slice(0, 32);
}

/** What a side's ca.crt holds: the `trust` generations of the link's CAs, or the partner's CAs (fixed by the spec). */
async function trustBundle(deps: AppDeps, spec: LinkSpec, state: LinkState, side: Side, trust: number[]): Promise<string> {
  return partnerBundle(spec, side) ?? caBundle(deps, spec.name, state, trust);
}

function leafRecord(version: string, credential: SdsCredential | CertificateSummary, caGeneration: number, trust: number[], partner: string | undefined): LeafRecord {
  const s = 'tls.crt' in credential ? inspectCertificate(credential['tls.crt']) : credential;
  return {
    version,
    notBefore: s.notBefore.toISOString(),
    notAfter: s.notAfter.toISOString(),
    fingerprint: s.fingerprint,
    caGeneration,
    trust: [...trust],
    ...(partner ? { partnerTrust: bundleDigest(partner) } : {}),
  };
}

/** Is a stored credential the one we were about to write: signed by the CA, for the host, with this trust? */
function fitsPlan(credential: SdsCredential, caCert: string, host: string, bundle: string, now: Date): boolean {
  const s = inspectCertificate(credential['tls.crt']);
  return (
    s.dnsNames.includes(host) &&
    s.notAfter > now &&
    chainsToAny(credential['tls.crt'], caCert) &&
    keyMatchesCertificate(credential['tls.crt'], credential['tls.key']) &&
    joinPemBundle([credential['ca.crt']]) === joinPemBundle([bundle])
  );
}

/**
 * A leaf from the link's CA pool: meshlink mints the key and asks CA Service to sign its CSR (the
 * host and the side's identity as SANs, the spec's leaf lifetime, which the pool may shorten).
 * What the pool gives back is checked before anything is stored: the SANs the pins need, and a
 * chain to the roots the peers trust. A pool that gained a CA under another root may issue under
 * it: the leaf is then asked again of an enabled CA of the pool under the link's roots (trust
 * before use); with none left, refused until a CA rollover takes the pool's roots again.
 */
async function issueFromPool(deps: AppDeps, spec: LinkSpec, side: Side, pool: PoolGeneration): Promise<CredentialPem> {
  const request = await createLeafRequest({ link: spec.name, host: spec.host, side, keyAlgorithm: spec.certificates.keyAlgorithm });
  const issue = async (issuingCaId?: string) => {
    // Unique per issuance (Enterprise pools keep every certificate by id): link, side and 48 random bits, within 63 characters.
    const certificateId = `${spec.name}-${side}-${randomBytes(6).toString('hex')}`;
    const issued = await casOf(deps).createCertificate(pool.caPool, { certificateId, csr: request.csr, lifetimeMs: spec.certificates.leafTtlMs, requestId: randomUUID(), ...(issuingCaId ? { issuingCaId } : {}) });
    return presentedChain(issued.certificate, issued.chain);
  };
  let certificate = await issue();
  if (!chainsToAny(certificate, pool.roots)) {
    const trusted = (await casOf(deps).listCertificateAuthorities(pool.caPool)).find((ca) => ca.enabled && chainsToAny(joinPemBundle(ca.chain), pool.roots));
    if (!trusted) {
      // Unavailable, not a conflict (which rotation reads as another worker holding the link): the
      // pool's state, not the request, is at fault, and a CA of the pool enabled again ends it.
      throw new MeshlinkError('unavailable', `CA pool ${pool.caPool} issues the ${side} certificate of link ${spec.name} under a root the link does not trust yet, and none of its enabled CAs is under the link's roots: enable one, or roll the link's CA over (POST /links/${spec.name}:rotate with {"scope": "ca"}) to take the pool's current roots`);
    }
    deps.log.info('CA pool issued under a root the link does not trust yet: asking a CA under its roots', { link: spec.name, side, caPool: pool.caPool, issuingCa: trusted.id });
    certificate = await issue(trusted.id);
    if (!chainsToAny(certificate, pool.roots)) throw new MeshlinkError('internal', `CA ${trusted.id} of pool ${pool.caPool} issued a certificate that does not chain to its own root`);
  }
  const summary = inspectCertificate(certificate);
  const identity = sideIdentity(spec.host, spec.name, side);
  if (!summary.dnsNames.includes(spec.host) || !summary.uris.includes(identity)) {
    // The pool cannot serve this link: refused as the spec's issuer (a create leaves no trace).
    const message = `CA pool ${pool.caPool} issued the ${side} certificate without the SANs asked (${spec.host}, ${identity}): its issuance policy must pass a CSR's subject alternative names through`;
    throw new MeshlinkError('invalid-argument', `link ${spec.name}: ${message}`, { details: [{ path: 'issuer', message }] });
  }
  return { certificate, privateKey: request.privateKey };
}

/**
 * Issues a new leaf for a side from the signing CA (or the link's CA pool), with `ca.crt` holding the trusted generations,
 * and stores it as a new version (or adopts the version an interrupted run stored). `listed`: the
 * side's versions, when the caller has just listed them (versionsCreating); `ahead`: the leaf
 * minted ahead (mintAhead), used when its CA is the signing CA.
 */
export async function storeNewLeaf(
  deps: AppDeps,
  state: LinkState,
  spec: LinkSpec,
  side: Side,
  now: Date,
  trust: number[],
  listed?: SecretVersionInfo[],
  ahead?: { ca: CredentialPem; leaf: Promise<CredentialPem> },
): Promise<Stored<LeafRecord>> {
  const id = secretIdOf(deps, spec.name, side);
  const signing = state.cas.find((ca) => ca.generation === state.signingGeneration);
  if (!signing) throw new MeshlinkError('internal', `link ${spec.name} has no signing CA`);
  const ca = await caOf(deps, spec.name, signing);
  const bundle = await trustBundle(deps, spec, state, side, trust);
  const { candidate, orphans } = await unrecordedVersions(deps, spec.name, state, side, state.leaves[side]?.version, listed);
  if (candidate) {
    const { credential } = await readCredential(deps, spec.name, side, candidate);
    if (fitsPlan(credential, ca.certificate, spec.host, bundle, now)) {
      deps.log.info('adopting credential version stored by an interrupted run', { link: spec.name, secret: id, version: candidate });
      return { record: leafRecord(candidate, credential, signing.generation, trust, partnerBundle(spec, side)), orphans: leftOver(deps, spec.name, id, orphans, candidate) };
    }
  }
  const leaf = ca.caPool !== undefined ? await issueFromPool(deps, spec, side, ca) : await (ahead?.ca === ca ? ahead.leaf : mintSideLeaf(spec, side, ca, now));
  // Under an issuer the peer trusts the root only: the leaf is sent with the link CA and the chain
  // up to it (a pool's leaf comes with its chain already).
  const certificate = ca.roots && ca.caPool === undefined ? leaf.certificate + ca.certificate + (ca.chain ?? '') : leaf.certificate;
  const credential: SdsCredential = { 'tls.crt': certificate, 'tls.key': leaf.privateKey, 'ca.crt': bundle };
  // Read back and its key checked before it is stored (see storeNewCa): by the mint for a leaf
  // minted here (tls.crt starts with it, its chain after), else (a CA pool's) here.
  const minted = mintedSummary(leaf);
  if (!minted && !keyMatchesCertificate(credential['tls.crt'], credential['tls.key'])) {
    throw new MeshlinkError('internal', `minted ${side} certificate of link ${spec.name} does not match its key`);
  }
  const summary = minted ?? inspectCertificate(credential['tls.crt']);
  const version = await deps.store.addVersion(id, encodeCredential(credential));
  deps.log.info('stored new credential', { link: spec.name, secret: id, version, side, caGeneration: signing.generation });
  return { record: leafRecord(version, summary, signing.generation, trust, partnerBundle(spec, side)), orphans: leftOver(deps, spec.name, id, orphans) };
}

/**
 * Publishes a side's current certificate and key again with `ca.crt` holding the `trust`
 * generations (a CA rollover adds, then drops, trust without re-issuing), as a new version, or
 * adopts the version an interrupted run stored.
 */
export async function storeTrustUpdate(deps: AppDeps, state: LinkState, spec: LinkSpec, side: Side, trust: number[]): Promise<Stored<LeafRecord>> {
  const current = state.leaves[side];
  if (!current) throw new MeshlinkError('internal', `link ${spec.name} has no ${side} credential to publish trust for`);
  const id = secretIdOf(deps, spec.name, side);
  const { credential } = await readCredential(deps, spec.name, side, current.version);
  const bundle = await trustBundle(deps, spec, state, side, trust);
  const partner = partnerBundle(spec, side);
  const { partnerTrust: _old, ...rest } = current;
  const updated = (version: string): LeafRecord => ({ ...rest, version, trust: [...trust], ...(partner ? { partnerTrust: bundleDigest(partner) } : {}) });
  const { candidate, orphans } = await unrecordedVersions(deps, spec.name, state, side, current.version);
  if (candidate) {
    const stored = (await readCredential(deps, spec.name, side, candidate)).credential;
    if (stored['tls.crt'] === credential['tls.crt'] && joinPemBundle([stored['ca.crt']]) === joinPemBundle([bundle])) {
      deps.log.info('adopting credential version stored by an interrupted run', { link: spec.name, secret: id, version: candidate });
      return { record: updated(candidate), orphans: leftOver(deps, spec.name, id, orphans, candidate) };
    }
  }
  const version = await deps.store.addVersion(id, encodeCredential({ ...credential, 'ca.crt': bundle }));
  deps.log.info('stored credential with new trust', { link: spec.name, secret: id, version, side, trust });
  return { record: updated(version), orphans: leftOver(deps, spec.name, id, orphans) };
}
