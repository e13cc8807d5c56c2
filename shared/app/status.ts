// The status a user sees for a link: names, clusters, expiry and rollover progress, never key
// material (invariant 4). Pure: built from the spec and the state.
import { clusterSide, partnerName, type LinkSpec } from '../link/spec.js';
import { bundleExpiry, readPartnerBundle } from '../pki/partner-bundle.js';
import { credentialName, type Side } from '../link/names.js';
import type { ForcedRotation, LinkState } from '../link/state.js';
import { linkFacts } from '../rotation/due.js';
import type { IssuerTarget } from '../rotation/facts.js';
import { describeStep, planNextStep, type RotationSettings } from '../rotation/plan.js';
import { caRenewalTime, renewalTime, rolloverWaitMs } from '../rotation/renewal.js';
import { rolloverSchedule } from '../rotation/rollover.js';
import { servedWarning } from '../rotation/served.js';
import type { ProbeRecord } from '../link/probe.js';

export interface SideStatus {
  cluster: string;
  namespace: string;
  credentialName: string;
  notAfter?: string;
  renewAt?: string;
  fingerprint?: string;
  caGeneration?: number;
  /** CA generations in the stored credential's ca.crt. */
  trustedCaGenerations: number[];
  /** What the cluster Secret holds: the CA generation of the certificate it presents and those its ca.crt trusts. */
  clusterSecret: { version?: string; caGeneration?: number; trustedCaGenerations?: number[]; lastSync?: string; lastError?: string };
  sync: LinkState['sync'][Side];
  address?: string;
  /** The side a partner runs (`external` in the spec): no cluster, namespace or credential of ours. */
  partner?: PartnerStatus;
}

const DAY_MS = 86_400_000;

/** A side the partner runs: who it is, the CAs we trust for it, and the CAs it must trust (GET /links/{name}/ca.pem). */
export interface PartnerStatus {
  /** The server it runs (`address:port`), or its client's first identity. */
  name: string;
  subjectAltNames: string[];
  /** The partner's CA bundle (`caCertificates`), each CA with its expiry and whole days left (negative once expired). */
  caCertificates: { subject: string; notAfter: string; daysLeft: number }[];
  /** Days until the first of the partner's CAs expires: after that, its certificates stop working with ours. */
  caDaysLeft?: number;
  /** Our CA generations it must trust now: those ca.pem holds (old and new during a rollover). */
  mustTrust: number[];
  /**
   * A rollover under way: the date by which the partner must trust the next CA (our side presents
   * a certificate of it from then on). Absent when no rollover runs.
   */
  trustNextCaBy?: string;
}

export interface RotationStatus {
  phase: LinkState['phase'];
  phaseSince: string;
  signingGeneration: number;
  forced?: ForcedRotation;
  /** Superseded store versions not destroyed yet. */
  retiredVersions: number;
  /** During a CA rollover: when both clusters first trusted the new CA, and first presented its leaves (the waits count from these). */
  rollover?: LinkState['rollover'];
  /** The rotation's next step, as the plan sees it from the state (given a time and settings). */
  next?: { step: string; at?: string; reason: string };
  /** A rollover cutting a wait short (or unable to finish) before the old CA expires; a superseded server leaf retired while the probe saw it still served. */
  warning?: string;
}

export interface LinkStatus {
  name: string;
  host: string;
  /**
   * The issuer the link's CAs are minted under, and the root(s) its peers trust (absent: self-signed
   * CAs); with the end of its issuing chain, and a warning when that end cuts link CAs short.
   */
  issuer?: { name: string; rootFingerprints: string[]; chainNotAfter?: string; warning?: string };
  protocol: LinkSpec['protocol'];
  phase: LinkState['phase'];
  ca: { generation: number; notAfter: string; renewAt: string; fingerprint: string; signing: boolean }[];
  rotation: RotationStatus;
  client: SideStatus;
  server: SideStatus;
  nextRenewal?: string;
  lastError?: string;
  /** Places an update moved the link from, not cleared yet (they go once both sides are synced). */
  pendingCleanup?: LinkState['stale'];
  /** The last probe of the server end (POST /links/{name}:probe, or the sweep). */
  probe?: ProbeRecord;
  createdAt: string;
  updatedAt: string;
  spec: unknown;
}

/** A side as a listing shows it: the fields of SideStatus its state alone gives. */
export type SideSummary = Pick<SideStatus, 'cluster' | 'notAfter' | 'sync'> & { clusterSecret: Pick<SideStatus['clusterSecret'], 'lastError'>; partner?: { name: string } };

/**
 * A link as its state alone shows it (no spec read: a listing of many links costs one metadata
 * read per page). Every LinkStatus is one too, with more fields.
 */
export interface LinkSummary {
  name: string;
  host: string;
  issuer?: { name: string; rootFingerprints: string[] };
  phase: LinkState['phase'];
  ca: Pick<LinkStatus['ca'][number], 'generation' | 'notAfter'>[];
  rotation: Pick<RotationStatus, 'signingGeneration'>;
  client: SideSummary;
  server: SideSummary;
  nextRenewal?: string;
  lastError?: string;
  /** The last probe's verdict (the state holds it: no extra read). */
  probe?: ProbeVerdict;
}

/** What a listing shows of the last probe. */
export type ProbeVerdict = Pick<ProbeRecord, 'at' | 'outcome' | 'current' | 'error' | 'reason'>;

function probeVerdict(probe: ProbeRecord | undefined): Pick<LinkSummary, 'probe'> {
  if (!probe) return {};
  const { at, outcome, current, error, reason } = probe;
  return { probe: { at, outcome, ...(current !== undefined ? { current } : {}), ...(error ? { error } : {}), ...(reason ? { reason } : {}) } };
}

/** The issuer field of a status: the issuer's name and the roots the link's CAs anchor to. */
function issuerOf(state: LinkState): Pick<LinkSummary, 'issuer'> {
  if (!state.issuer) return {};
  return { issuer: { name: state.issuer, rootFingerprints: [...new Set(state.cas.flatMap((ca) => ca.anchors ?? []))] } };
}

/** When now is. With the link's issuer as imported now, when the caller read it. */
export interface StatusAt {
  now: Date;
  settings: RotationSettings;
  issuer?: IssuerTarget;
}

/**
 * The issuer with the end of its chain: a chain that ends before a link CA minted now would
 * (caTtl) cuts the link's CAs and leaves short, so the status says so while there is time to
 * import a renewed issuing CA.
 */
function issuerStatus(spec: LinkSpec, state: LinkState, at: StatusAt): Pick<LinkStatus, 'issuer'> {
  const { issuer } = issuerOf(state);
  const end = at.issuer?.name === issuer?.name ? at.issuer?.notAfter : undefined;
  if (!issuer || !end) return issuer ? { issuer } : {};
  const days = Math.floor((end.getTime() - at.now.getTime()) / DAY_MS);
  const warning =
    end <= at.now
      ? `the issuing chain of issuer ${issuer.name} ended at ${end.toISOString()}: no link CA can be minted under it; import a renewed issuing CA (PUT /issuers/${issuer.name})`
      : end.getTime() - at.now.getTime() < spec.certificates.caTtlMs
        ? `the issuing chain of issuer ${issuer.name} ends at ${end.toISOString()} (in ${days} days), before a link CA minted now would: link CAs and leaves end by then; import a renewed issuing CA (PUT /issuers/${issuer.name})`
        : undefined;
  return { issuer: { ...issuer, chainNotAfter: end.toISOString(), ...(warning ? { warning } : {}) } };
}

export function linkSummary(name: string, state: LinkState): LinkSummary {
  const side = (s: Side): SideSummary => {
    const { lastError } = clusterStatus(state.sync[s]);
    return {
      cluster: s === 'client' ? state.clientCluster : state.serverCluster,
      ...(state.leaves[s] ? { notAfter: state.leaves[s]!.notAfter } : {}),
      sync: state.sync[s],
      clusterSecret: lastError ? { lastError } : {},
      ...(state.partner?.side === s ? { partner: { name: state.partner.name } } : {}),
    };
  };
  return {
    name,
    host: state.host,
    ...issuerOf(state),
    phase: state.phase,
    ca: state.cas.map((ca) => ({ generation: ca.generation, notAfter: ca.notAfter })),
    rotation: { signingGeneration: state.signingGeneration },
    client: side('client'),
    server: side('server'),
    ...(state.nextRenewal ? { nextRenewal: state.nextRenewal } : {}),
    ...(state.lastError ? { lastError: state.lastError } : {}),
    ...probeVerdict(state.probe),
  };
}

function clusterStatus(sync: LinkState['sync'][Side]): SideStatus['clusterSecret'] {
  return {
    ...(sync.version !== undefined ? { version: sync.version } : {}),
    ...(sync.caGeneration !== undefined ? { caGeneration: sync.caGeneration } : {}),
    ...(sync.trust ? { trustedCaGenerations: sync.trust } : {}),
    ...(sync.at ? { lastSync: sync.at } : {}),
    ...(sync.error && sync.status !== 'synced' ? { lastError: sync.error } : {}),
  };
}

function rotationStatus(spec: LinkSpec, state: LinkState, at: StatusAt): RotationStatus {
  const status: RotationStatus = {
    phase: state.phase,
    phaseSince: state.phaseSince,
    signingGeneration: state.signingGeneration,
    ...(state.forced ? { forced: state.forced } : {}),
    ...(state.rollover ? { rollover: state.rollover } : {}),
    retiredVersions: state.retired?.length ?? 0,
  };
  if (state.cas.length > 0) {
    const facts = linkFacts(spec, state, at.issuer);
    const step = planNextStep(facts, at.now, at.settings);
    status.next = { step: describeStep(step), ...(step.kind === 'wait' || step.kind === 'done' ? { at: step.until.toISOString() } : {}), reason: step.reason };
    const warnings = [rolloverSchedule(facts, at.now, at.settings).warning, servedWarning(facts, at.now, at.settings.servedGraceMs)].filter((w) => w !== undefined);
    if (warnings.length > 0) status.warning = warnings.join('; ');
  }
  return status;
}

function partnerStatus(spec: LinkSpec, state: LinkState, side: Side, at: StatusAt): PartnerStatus {
  const { now } = at;
  const external = spec[side] as { external: { caCertificates: string; subjectAltNames: string[] } };
  const read = readPartnerBundle(external.external.caCertificates);
  const cas = 'cas' in read ? read.cas : [];
  const daysLeft = (at: Date) => Math.floor((at.getTime() - now.getTime()) / DAY_MS);
  const expiry = bundleExpiry(cas);
  // The new CA signs our side's leaf at the switch: the partner must trust it by then.
  const switchAt = state.phase === 'trust-added' && state.cas.length > 1 ? rolloverSchedule(linkFacts(spec, state, at.issuer), now, at.settings).switchAt : undefined;
  const switching = switchAt !== undefined ? new Date(switchAt).toISOString() : undefined;
  return {
    name: partnerName(spec, side),
    subjectAltNames: [...external.external.subjectAltNames],
    caCertificates: cas.map((ca) => ({ subject: ca.subject, notAfter: ca.notAfter.toISOString(), daysLeft: daysLeft(ca.notAfter) })),
    ...(expiry ? { caDaysLeft: daysLeft(expiry) } : {}),
    mustTrust: state.cas.map((ca) => ca.generation),
    ...(switching ? { trustNextCaBy: switching } : {}),
  };
}

function sideStatus(spec: LinkSpec, state: LinkState, side: Side, at: StatusAt): SideStatus {
  if ('external' in spec[side]) {
    return { cluster: '', namespace: '', credentialName: '', trustedCaGenerations: [], clusterSecret: {}, sync: state.sync[side], partner: partnerStatus(spec, state, side, at) };
  }
  const leaf = state.leaves[side];
  const { gateway, cluster } = clusterSide(spec, side);
  const status: SideStatus = {
    cluster,
    namespace: gateway.namespace,
    credentialName: credentialName(spec.name, side),
    trustedCaGenerations: leaf?.trust ?? [],
    clusterSecret: clusterStatus(state.sync[side]),
    sync: state.sync[side],
  };
  if (leaf) {
    status.notAfter = leaf.notAfter;
    status.renewAt = renewalTime(new Date(leaf.notBefore), new Date(leaf.notAfter), spec.certificates.renewBefore).toISOString();
    status.fingerprint = leaf.fingerprint;
    status.caGeneration = leaf.caGeneration;
  }
  if (side === 'server') {
    const address = clusterSide(spec, 'server').address ?? state.sync.server.address;
    if (address) status.address = address;
  }
  return status;
}

/** With the rotation's next step as the plan sees it at `at.now` (without reading any payload). */
export function linkStatus(spec: LinkSpec, specDoc: unknown, state: LinkState, at: StatusAt): LinkStatus {
  return {
    name: spec.name,
    host: spec.host,
    ...issuerStatus(spec, state, at),
    protocol: spec.protocol,
    phase: state.phase,
    ca: state.cas.map((ca) => ({
      generation: ca.generation,
      notAfter: ca.notAfter,
      renewAt: caRenewalTime(new Date(ca.notBefore), new Date(ca.notAfter), spec.certificates.renewBefore, rolloverWaitMs(at.settings, state.partner !== undefined)).toISOString(),
      fingerprint: ca.fingerprint,
      signing: ca.generation === state.signingGeneration,
    })),
    rotation: rotationStatus(spec, state, at),
    client: sideStatus(spec, state, 'client', at),
    server: sideStatus(spec, state, 'server', at),
    ...(state.nextRenewal ? { nextRenewal: state.nextRenewal } : {}),
    ...(state.lastError ? { lastError: state.lastError } : {}),
    ...(state.stale?.length ? { pendingCleanup: state.stale } : {}),
    ...(state.probe ? { probe: state.probe } : {}),
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    spec: specDoc,
  };
}
