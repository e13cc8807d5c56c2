// The link's state as kept in the store: one JSON annotation on the link's own secret, so a
// sweep over thousands of links lists metadata only and reads no payload (DESIGN: Scale).
// Pure: encoding, decoding and small derivations; no I/O, no clock.
import type { Side, StoreRole } from './names.js';
import type { LinkSpec } from './spec.js';
import { MeshlinkError } from '../errors.js';
import type { ProbeRecord } from './probe.js';

/**
 * Store annotation keys. Secret Manager allows only letters, digits, `-`, `_` and `.` in
 * annotation keys (no `/`), so these differ from the Kubernetes `meshlink.io/...` keys.
 */
export const STORE_ANNOTATION_PREFIX = 'meshlink-';
/** Annotation holding the encoded LinkState on the link secret. */
export const ANNOTATION_STATE = 'meshlink-state';
/** Flat copies for people and filters (`gcloud secrets list --filter`). */
export const ANNOTATION_HOST = 'meshlink-host';
export const ANNOTATION_NEXT_RENEWAL = 'meshlink-next-renewal';
/** Annotation holding the spec document (JSON) on the link secret, when it fits (app/stored-spec.ts). */
export const ANNOTATION_SPEC = 'meshlink-spec';

/** CA rollover phases (invariant 1: trust before use). */
export type RolloverPhase =
  | 'stable' // one CA signs both leaves and is the only one trusted
  | 'trust-added' // the new CA is in both sides' ca.crt; leaves still from the old CA
  | 'leaves-switched'; // both leaves from the new CA; old CA still trusted until the grace ends

export interface CaRecord {
  generation: number;
  /** Version of the CA store secret holding this CA's certificate and key. */
  version: string;
  notBefore: string;
  notAfter: string;
  fingerprint: string;
  /**
   * A CA under an issuer: fingerprints of the organisation's roots, what a `ca.crt` trusting this
   * CA holds instead of the CA itself. Absent for a self-signed link CA (its own fingerprint).
   */
  anchors?: string[];
  /** Under an issuer: its name and the fingerprint of the issuing CA that signed this CA (a new issuer or bundle rolls the link over). */
  issuer?: string;
  issuing?: string;
}

/** The fingerprints a `ca.crt` holds to trust a CA: its roots under an issuer, else the CA itself. */
export function anchorsOf(ca: CaRecord): string[] {
  return ca.anchors ?? [ca.fingerprint];
}

/**
 * Which CA generations a `ca.crt` with these certificate fingerprints trusts, and how many of its
 * certificates anchor no CA of the link. Under an issuer every generation has the same anchors
 * (the root), so the bundle alone cannot tell them apart: when it holds exactly the anchors of the
 * generations `recorded` for it, those are what it trusts.
 */
export function bundleTrust(fingerprints: readonly string[], cas: readonly CaRecord[], recorded: readonly number[]): { trust: number[]; foreign: number } {
  const held = new Set(fingerprints);
  const foreign = fingerprints.filter((fp) => !cas.some((ca) => anchorsOf(ca).includes(fp))).length;
  const recordedCas = cas.filter((ca) => recorded.includes(ca.generation));
  const recordedAnchors = new Set(recordedCas.flatMap(anchorsOf));
  if (recordedCas.length === recorded.length && recordedAnchors.size === held.size && [...held].every((fp) => recordedAnchors.has(fp))) {
    return { trust: [...recorded], foreign };
  }
  const trust: number[] = [];
  for (const fp of fingerprints) {
    for (const ca of cas) {
      const anchors = anchorsOf(ca);
      if (anchors.includes(fp) && anchors.every((a) => held.has(a)) && !trust.includes(ca.generation)) trust.push(ca.generation);
    }
  }
  return { trust, foreign };
}

export interface LeafRecord {
  /** Version of the side's credential store secret. */
  version: string;
  notBefore: string;
  notAfter: string;
  fingerprint: string;
  /** Generation of the CA that signed the leaf. */
  caGeneration: number;
  /** CA generations in this credential version's `ca.crt`. */
  trust: number[];
  /** Facing a partner: digest of the partner's CA bundle its `ca.crt` holds instead (app/credentials.ts bundleDigest). */
  partnerTrust?: string;
}

export type SyncStatus = 'pending' | 'synced' | 'waiting-for-cluster' | 'detached' | 'error';

export interface SideSync {
  status: SyncStatus;
  /** Credential version last written to the cluster Secret. */
  version?: string;
  /** Revision of the objects last applied (hash over their revisions). */
  objects?: string;
  at?: string;
  error?: string;
  /** Server side: the ingress address the link uses. */
  address?: string;
  /** CA generation of the certificate the cluster Secret presents (of `version`). */
  caGeneration?: number;
  /** CA generations in the cluster Secret's `ca.crt` (of `version`). */
  trust?: number[];
}

/** A forced rotation (suspected compromise) not finished yet: recorded so retries have one effect. */
export interface ForcedRotation {
  /** Both leaves: done when neither side still presents the fingerprint recorded here. */
  leaf?: { at: string; replace: Partial<Record<Side, string>>; requestId?: string };
  /** A full CA rollover, grace periods shortened: done when this generation signs and the phase is stable. */
  ca?: { at: string; generation: number; requestId?: string };
}

/**
 * Where a CA rollover stands (invariant 8): its waits count from these times, so a leaf rotation
 * in between does not restart them. Kept only while the rollover of `generation` runs; a state
 * stored before they were recorded has none, and the first rotation run records them
 * (rotation/rollover.ts).
 */
export interface RolloverProgress {
  /** The new CA's generation: the record belongs to its rollover only. */
  generation: number;
  /** When both clusters first held a ca.crt with the old and the new CA (the trust wait counts from it). */
  trustedAt?: string;
  /** When both clusters first presented leaves of the new CA (the switch wait counts from it). */
  switchedAt?: string;
}

/** A store version no longer in use: disabled after a grace period, destroyed after retention. */
export interface RetiredVersion {
  role: Exclude<StoreRole, 'link' | 'port-claim' | 'host-claim'>;
  version: string;
  /** When it was superseded. */
  since: string;
  disabled?: boolean;
}

/** A client-supplied request id of POST /links/{name}:rotate, kept so a retried request has one effect. */
export interface RotationRequest {
  id: string;
  scope: 'leaf' | 'ca';
  at: string;
}

/**
 * A place an update moved the link away from, whose leftovers go once both sides are synced at
 * their new places: a side's objects and credential Secret in a namespace of a cluster, or the
 * link's port on an ingress gateway Service.
 */
export type StalePlace =
  | { what: 'objects'; side: Side; cluster: string; namespace: string }
  | { what: 'port'; cluster: string; namespace: string; service: string };

export interface LinkState {
  host: string;
  /** The issuer whose issuing CA signs the link's CAs (spec `issuer`); absent: self-signed CAs. */
  issuer?: string;
  /** '' for the side a partner runs (`external`). */
  clientCluster: string;
  serverCluster: string;
  /** The port the client dials: our ingress gateway's, or the partner server's. */
  gatewayPort: number;
  /**
   * The side a partner runs outside meshlink (no leaf, cluster or sync of ours there), how listings
   * name it, and when the first of its CAs (the spec's caCertificates) expires: the sweep reads no spec.
   */
  partner?: { side: Side; name: string; caNotAfter?: string };
  /**
   * Version of the link secret holding the current spec; '' when the spec is in the secret's
   * `meshlink-spec` annotation instead (or not stored yet: see specStored).
   */
  specVersion: string;
  specHash: string;
  /** Every CA currently trusted, oldest first. */
  cas: CaRecord[];
  /** Generation of the CA that signs new leaves. */
  signingGeneration: number;
  phase: RolloverPhase;
  phaseSince: string;
  /** Absent when stable, and in states stored by older code (derived then: rotation/rollover.ts). */
  rollover?: RolloverProgress;
  leaves: Partial<Record<Side, LeafRecord>>;
  sync: Record<Side, SideSync>;
  nextRenewal?: string;
  lastError?: string;
  forced?: ForcedRotation;
  retired?: RetiredVersion[];
  /** The most recent request ids, newest last (bounded: the state is one annotation under 16 KiB). */
  requests?: RotationRequest[];
  /**
   * Places left by spec updates and not cleared yet (app/prune.ts). Small: one entry per place
   * moved away from, gone once cleared.
   */
  stale?: StalePlace[];
  /** When clearing `stale` last failed (a cluster not answering): the sweep tries again `syncRetryMs` later. */
  staleFailedAt?: string;
  /**
   * Set when the link was deleted while places of it could not be cleared (a cluster not
   * answering): the record stays as a tombstone holding those places in `stale` (with
   * `staleFailedAt`), invisible to reads, until the sweep clears them (app/delete.ts).
   */
  deleted?: { at: string; istioApiVersion: LinkSpec['istioApiVersion'] };
  /** The last probe of the server end (app/probe.ts): bounded, rewritten by the sweep only when its verdict changes. */
  probe?: ProbeRecord;
  /** Held while one worker changes the link (invariant 2: two workers rotate once). */
  lease?: { holder: string; until: string };
  createdAt: string;
  updatedAt: string;
}

export function encodeState(state: LinkState): Record<string, string> {
  const annotations: Record<string, string> = {
    [ANNOTATION_STATE]: JSON.stringify(state),
    [ANNOTATION_HOST]: state.host,
  };
  if (state.nextRenewal) annotations[ANNOTATION_NEXT_RENEWAL] = state.nextRenewal;
  return annotations;
}

/** A JSON record meshlink keeps in an annotation (`what` names it in the error); undefined when absent. */
export function decodeJsonAnnotation<T>(annotations: Record<string, string>, key: string, what: string): T | undefined {
  const raw = annotations[key];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch (cause) {
    throw new MeshlinkError('internal', `${what} is not valid JSON`, { cause });
  }
}

export function decodeState(annotations: Record<string, string>, secretId: string): LinkState | undefined {
  return decodeJsonAnnotation<LinkState>(annotations, ANNOTATION_STATE, `link state of ${secretId}`);
}

/**
 * Whether the link's spec is stored: the question "was this link ever completed" of every reader
 * (a record older code created before its spec, or a tombstone, is not a link to show, rotate or sync).
 */
export function specStored(state: LinkState): boolean {
  return state.specHash !== '';
}

/** Is a worker holding the link right now (its lease not expired)? */
export function leaseHeld(state: LinkState, now: Date): boolean {
  return !!state.lease && new Date(state.lease.until) > now;
}

/** The CA of the highest generation: the one a rollover is moving to (or the only one). */
export function newestCa<T extends { generation: number }>(cas: readonly T[]): T | undefined {
  return cas.reduce<T | undefined>((max, ca) => (!max || ca.generation > max.generation ? ca : max), undefined);
}

export function trustedGenerations(state: LinkState): number[] {
  return state.cas.map((ca) => ca.generation);
}

/** The versions of a role's store secret the state names: in use (or projected), or retired. */
export function knownVersions(state: LinkState, role: RetiredVersion['role']): Set<string> {
  const known = new Set((state.retired ?? []).filter((r) => r.role === role).map((r) => r.version));
  if (role === 'ca') for (const ca of state.cas) known.add(ca.version);
  else for (const version of [state.leaves[role]?.version, state.sync[role].version]) if (version !== undefined) known.add(version);
  return known;
}

/**
 * Adds versions of a role to the retirement list, superseded `at` (each once): disabled after the
 * version grace, destroyed after the retention (rotation/plan.ts).
 */
export function retireVersions(state: LinkState, role: RetiredVersion['role'], versions: readonly (string | undefined)[], at: Date): LinkState {
  const retired = [...(state.retired ?? [])];
  for (const version of versions) {
    if (version === undefined || retired.some((r) => r.role === role && r.version === version)) continue;
    retired.push({ role, version, since: at.toISOString() });
  }
  return withRetired(state, retired);
}

/** The state with this retirement list (none: the field is left out). */
export function withRetired(state: LinkState, retired: RetiredVersion[]): LinkState {
  const { retired: _old, ...rest } = state;
  return retired.length > 0 ? { ...rest, retired } : rest;
}
