// The rotation plan: facts + time -> the one next step. Pure. The use-case acts on the step,
// persists, gathers again and asks again, so a crash at any point resumes where it stopped.
//
// CA rollover (invariant 1, trust before use), each phase persisted before the next:
//   stable        one CA signs both leaves and is the only one trusted
//   trust-added   a new CA is minted; both sides get a credential version whose ca.crt holds old
//                 and new, synced to both clusters; after the grace period (counted from when both
//                 clusters hold it) the new CA starts signing and both leaves are re-issued from it
//   leaves-switched  both clusters present leaves from the new CA; after another grace period the
//                 old CA leaves both bundles, and the link is stable again on the new CA.
// A cluster Secret is written only when the certificate it will present is trusted by the peer's
// current cluster ca.crt and its own ca.crt trusts what the peer presents (syncIsSafe).
import type { Side } from '../link/names.js';
import type { RetiredVersion } from '../link/state.js';
import { caPolicy, firstViolation, leafPolicy, TrustMismatch, type Violation } from './checks.js';
import { peerOf, type RotationFacts } from './facts.js';
import { latestRolloverStart, rolloverWaitMs } from './renewal.js';
import { rolloverGraceMs, rolloverSchedule, trustWaitMs } from './rollover.js';
import { servedDropAt, servedDropWarning, servedGateAt } from './served.js';

export interface RotationSettings {
  /** Each rollover phase waits this long after both clusters hold the previous one (SDS propagation). */
  rolloverGraceMs: number;
  /** The same wait in a forced CA rollover: the minimum that keeps handshakes working. */
  forcedRolloverGraceMs: number;
  /**
   * A link with a partner's side: the trust wait, from when ca.pem first offers the new CA to when
   * our side presents a certificate of it (the partner's time to fetch ca.pem; at least the grace).
   */
  partnerLeadMs: number;
  /** A superseded store version is disabled this long after it was replaced... */
  versionGraceMs: number;
  /** ...and destroyed this long after. */
  versionRetentionMs: number;
  /** A side whose cluster failed, or a failed clean-up of the places a move left, is tried again after this long. */
  syncRetryMs: number;
  /** A certificate whose notBefore is further ahead than this is broken (beyond clock skew). */
  maxClockSkewMs: number;
  /** Superseded versions remembered per link; the oldest beyond this are destroyed early (the state is one annotation). */
  maxRetiredVersions: number;
  /** A superseded server leaf version waits at most this long for the probe to see the current leaf served (served.ts). */
  servedGraceMs: number;
}

export const DEFAULT_ROTATION_SETTINGS: RotationSettings = {
  rolloverGraceMs: 3_600_000,
  forcedRolloverGraceMs: 60_000,
  partnerLeadMs: 14 * 86_400_000,
  versionGraceMs: 3_600_000,
  versionRetentionMs: 7 * 86_400_000,
  syncRetryMs: 300_000,
  maxClockSkewMs: 300_000,
  maxRetiredVersions: 16,
  servedGraceMs: 86_400_000,
};

export type Step =
  | { kind: 'mint-ca'; generation: number; reason: string }
  | { kind: 'issue-leaf'; side: Side; trust: number[]; reason: string }
  /** A new credential version with the same certificate and key, and `ca.crt` holding `trust` (add or drop trust). */
  | { kind: 'publish-trust'; side: Side; trust: number[]; reason: string }
  | { kind: 'sync'; side: Side; reason: string }
  /** `warning`: the trust wait was cut short so the rollover finishes before the old CA expires. */
  | { kind: 'switch-signing'; generation: number; reason: string; warning?: string }
  | { kind: 'advance-phase'; phase: 'leaves-switched'; reason: string }
  | { kind: 'finish-rollover'; drop: number[]; reason: string; warning?: string }
  | { kind: 'retire-versions'; disable: RetiredVersion[]; destroy: RetiredVersion[]; reason: string }
  | { kind: 'complete-force'; scope: 'leaf' | 'ca'; reason: string }
  /** Remove what the link left where a spec update moved it from (LinkState.stale). */
  | { kind: 'clear-stale-places'; reason: string }
  /** An operation is under way; nothing to do before `until`. */
  | { kind: 'wait'; until: Date; reason: string }
  /** Idle until the next renewal. */
  | { kind: 'done'; until: Date; reason: string }
  /** The state allows no safe step (a bug or a hand-edited state): reported, never forced. */
  | { kind: 'blocked'; reason: string };

/** Steps that change something (the rest only tell when to come back). */
export function isAction(step: Step): boolean {
  return step.kind !== 'wait' && step.kind !== 'done' && step.kind !== 'blocked';
}

export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'issue-leaf':
    case 'publish-trust':
    case 'sync':
      return `${step.kind}(${step.side})`;
    case 'mint-ca':
    case 'switch-signing':
      return `${step.kind}(${step.generation})`;
    default:
      return step.kind;
  }
}

const text = (v: Violation) => `${v.reason}: ${v.message}`;

/**
 * May `side`'s cluster Secret be written now? The certificate it will present must be trusted by
 * the peer's current cluster ca.crt, and its new ca.crt must trust what the peer presents.
 * Unknown peer content (never synced, or a record from before this was tracked) does not block.
 */
export function syncIsSafe(f: RotationFacts, side: Side): boolean {
  const leaf = f.leaves[side];
  if (!leaf) return false;
  const peer = f.clusters[peerOf(side)];
  if (peer.version === undefined) return true;
  const trustedByPeer = peer.trust === undefined || peer.trust.includes(leaf.caGeneration);
  const trustsPeer = peer.caGeneration === undefined || leaf.trust.includes(peer.caGeneration);
  return trustedByPeer && trustsPeer;
}

/** A side whose cluster Secret does not hold its current store version (or whose last sync failed). */
function isBehind(f: RotationFacts, side: Side): boolean {
  const leaf = f.leaves[side];
  const cluster = f.clusters[side];
  return !!leaf && (cluster.version !== leaf.version || cluster.status !== 'synced');
}

function retirement(f: RotationFacts, now: Date, s: RotationSettings): { disable: RetiredVersion[]; destroy: RetiredVersion[]; nextAt?: number } {
  const t = now.getTime();
  const inUse = (r: RetiredVersion) =>
    r.role === 'ca' ? f.cas.some((ca) => ca.version === r.version) : f.leaves[r.role]?.version === r.version || f.clusters[r.role].version === r.version;
  const sorted = [...f.retired].sort((a, b) => Date.parse(a.since) - Date.parse(b.since));
  const excess = Math.max(0, sorted.length - s.maxRetiredVersions);
  const disable: RetiredVersion[] = [];
  const destroy: RetiredVersion[] = [];
  let nextAt: number | undefined;
  sorted.forEach((r, i) => {
    if (inUse(r)) return; // a cluster still projects it (its sync failed): wait for the sync
    const since = Date.parse(r.since);
    const destroyAt = since + s.versionRetentionMs;
    const disableAt = servedGateAt(f, r, since + s.versionGraceMs, s.servedGraceMs);
    if (t >= destroyAt || i < excess) destroy.push(r);
    else if (!r.disabled && t >= disableAt) disable.push(r);
    else {
      const at = r.disabled ? destroyAt : disableAt;
      nextAt = nextAt === undefined ? at : Math.min(nextAt, at);
    }
  });
  return { disable, destroy, ...(nextAt !== undefined ? { nextAt } : {}) };
}

/**
 * What every planning step reads: the facts, the time, and what follows from them once. `waits`
 * and `unsafe` gather, step by step, why a step could not be taken now (for the final wake-up).
 */
interface Plan {
  f: RotationFacts;
  now: Date;
  t: number;
  s: RotationSettings;
  newest: RotationFacts['cas'][number];
  signing: RotationFacts['cas'][number];
  /** The CAs each side's ca.crt must hold now. */
  target: number[];
  schedule: ReturnType<typeof rolloverSchedule>;
  /** In leaves-switched: when the old CAs leave the bundles. */
  dropAt?: number;
  rolloverStart: Date;
  caVerdict?: Violation;
  /** Nothing can be issued from an expired CA: only trust can still be published. */
  canIssue: boolean;
  verdicts: { side: Side; v?: Violation }[];
  behind: Side[];
  waits: { at: number; reason: string }[];
  unsafe: Side[];
}

/** One named step of the plan: the step to take now, or undefined to ask the next. */
type PlanStep = (p: Plan) => Step | undefined;

/**
 * The chain, in order of urgency (the first step found wins): a CA that must be replaced now,
 * leaves that may fail a handshake, the CA's renewal (which re-issues both leaves anyway), leaves
 * nearing expiry, trust bundles, clusters behind the store, rollover phases, forced rotations
 * completed, a spec update's leftovers, superseded versions. Then: when to come back.
 */
const PLAN: readonly PlanStep[] = [
  replaceCaNow,
  reissueUrgentLeaf,
  renewCa,
  renewNearingLeaf,
  publishTrust,
  syncClusters,
  advanceRollover,
  completeForce,
  clearStalePlaces,
  retireVersions,
];

export function planNextStep(f: RotationFacts, now: Date, s: RotationSettings): Step {
  const p = gather(f, now, s);
  if ('kind' in p) return p;
  for (const step of PLAN) {
    const next = step(p);
    if (next) return next;
  }
  return nextWake(p);
}

/** Derives the plan's inputs, or the step when the link has no CA to plan with. */
function gather(f: RotationFacts, now: Date, s: RotationSettings): Plan | Step {
  const t = now.getTime();
  const newest = f.cas[f.cas.length - 1];
  if (!newest) return { kind: 'mint-ca', generation: 1, reason: 'CaMissing: the link has no CA' };
  const signing = f.cas.find((ca) => ca.generation === f.signingGeneration);
  if (!signing) return { kind: 'blocked', reason: `the signing CA generation ${f.signingGeneration} is not among the link's CAs` };
  const schedule = rolloverSchedule(f, now, s);
  // The served gate (rotation/served.ts) may hold the drop past the grace: trust follows it.
  const dropAt = f.phase === 'leaves-switched' ? (schedule.dropAt !== undefined ? servedDropAt(f, schedule.dropAt, s.servedGraceMs) : t) : undefined;
  const target = f.phase === 'trust-added' || (dropAt !== undefined && t < dropAt) ? f.cas.map((ca) => ca.generation) : [f.signingGeneration];
  // A rollover starts at the CA's renewal time, or earlier if that leaves too little time for it.
  const rolloverStart = new Date(Math.min(newest.renewAt.getTime(), latestRolloverStart(newest.notBefore, newest.notAfter, rolloverWaitMs(s, f.partner !== undefined)).getTime()));
  const caVerdict = f.phase === 'stable' ? firstViolation(caPolicy(now, f.issuer), { ...newest, renewAt: rolloverStart }) : undefined;
  const canIssue = t < signing.notAfter.getTime();
  const p = { f, now, t, s, newest, signing, target, schedule, rolloverStart, canIssue, waits: [], unsafe: [], ...(dropAt !== undefined ? { dropAt } : {}), ...(caVerdict ? { caVerdict } : {}) };
  return { ...p, verdicts: leafVerdicts(p), behind: f.sides.filter((side) => isBehind(f, side)) };
}

/** Each side's first leaf violation. */
function leafVerdicts({ f, now, s, target, canIssue }: Omit<Plan, 'verdicts' | 'behind'>): Plan['verdicts'] {
  return f.sides.map((side) => {
    const input = {
      side,
      host: f.host,
      identity: f.identity[side],
      signingGeneration: f.signingGeneration,
      // A side facing a partner trusts the partner's CAs (fixed by the spec), none of ours.
      expectedTrust: f.partner ? [] : target,
      ...(f.partner ? { partnerTrust: true } : {}),
      ...(f.leaves[side] ? { leaf: f.leaves[side] } : {}),
      ...(f.forced?.leaf?.replace[side] ? { forcedFingerprint: f.forced.leaf.replace[side] } : {}),
    };
    const v = canIssue ? firstViolation(leafPolicy(now, s.maxClockSkewMs), input) : f.leaves[side] ? TrustMismatch(input) : undefined;
    return { side, ...(v ? { v } : {}) };
  });
}

/** A CA that expired, or a forced rollover, starts at once; the rest waits for the leaves. */
function replaceCaNow({ f, newest, caVerdict }: Plan): Step | undefined {
  if (caVerdict?.reason === 'CaExpired') return { kind: 'mint-ca', generation: newest.generation + 1, reason: text(caVerdict) };
  if (f.phase === 'stable' && f.forced?.ca && f.signingGeneration < f.forced.ca.generation) {
    return { kind: 'mint-ca', generation: newest.generation + 1, reason: 'Forced: a forced CA rollover' };
  }
  return undefined;
}

const issue = ({ f, target }: Plan, side: Side, v: Violation): Step => ({ kind: 'issue-leaf', side, trust: f.partner ? [] : target, reason: text(v) });

/** A leaf that may fail a handshake now (missing, wrong, expired...). */
function reissueUrgentLeaf(p: Plan): Step | undefined {
  const urgent = p.verdicts.find((x) => x.v && x.v.reason !== 'NearingExpiry' && x.v.reason !== 'TrustMismatch');
  return urgent?.v ? issue(p, urgent.side, urgent.v) : undefined;
}

function renewCa({ newest, caVerdict }: Plan): Step | undefined {
  return caVerdict ? { kind: 'mint-ca', generation: newest.generation + 1, reason: text(caVerdict) } : undefined;
}

function renewNearingLeaf(p: Plan): Step | undefined {
  const nearing = p.verdicts.find((x) => x.v?.reason === 'NearingExpiry');
  return nearing?.v ? issue(p, nearing.side, nearing.v) : undefined;
}

function publishTrust({ f, target, verdicts }: Plan): Step | undefined {
  const trust = verdicts.find((x) => x.v?.reason === 'TrustMismatch');
  return trust?.v ? { kind: 'publish-trust', side: trust.side, trust: f.partner ? [] : target, reason: text(trust.v) } : undefined;
}

/** Brings each side to its store version, in an order that keeps trust before use. */
function syncClusters({ f, t, s, behind, waits, unsafe }: Plan): Step | undefined {
  for (const side of behind) {
    const cluster = f.clusters[side];
    const failed = cluster.status === 'error' || cluster.status === 'waiting-for-cluster' || cluster.status === 'detached';
    if (failed && cluster.at && t < cluster.at.getTime() + s.syncRetryMs) {
      waits.push({ at: cluster.at.getTime() + s.syncRetryMs, reason: `sync-retry(${side})` });
      continue;
    }
    if (!syncIsSafe(f, side)) {
      unsafe.push(side);
      continue;
    }
    return { kind: 'sync', side, reason: cluster.version === f.leaves[side]?.version ? `the last sync of the ${side} cluster failed` : `the ${side} cluster does not hold version ${f.leaves[side]?.version}` };
  }
  if (unsafe.length > 0 && waits.length === 0) {
    return { kind: 'blocked', reason: `syncing ${unsafe.join(' and ')} now would present a certificate the peer does not trust` };
  }
  return undefined;
}

/** Phases advance only when both clusters hold the previous phase's versions. */
function advanceRollover(p: Plan): Step | undefined {
  const { f, t, newest, signing, schedule, dropAt, waits } = p;
  if (p.behind.length > 0) return undefined;
  const late = schedule.warning ? { warning: schedule.warning } : {};
  if (f.phase === 'trust-added' && f.signingGeneration !== newest.generation) {
    if (!p.canIssue) return { kind: 'switch-signing', generation: newest.generation, reason: `CaExpired: CA generation ${signing.generation} expired; both clusters trust ${newest.generation}` };
    // Both clusters hold their versions, so both trust the new CA: the wait has a start.
    const switchAt = schedule.switchAt ?? t + trustWaitMs(f, p.s);
    if (t >= switchAt) return { kind: 'switch-signing', generation: newest.generation, reason: `both clusters have trusted CA generation ${newest.generation} for the trust wait`, ...late };
    waits.push({ at: switchAt, reason: 'rollover-grace(trust-added)' });
  } else if (f.phase === 'trust-added') {
    return { kind: 'advance-phase', phase: 'leaves-switched', reason: `both clusters present leaves from CA generation ${newest.generation}` };
  } else if (f.phase === 'leaves-switched' && dropAt !== undefined) {
    if (t < dropAt) waits.push({ at: dropAt, reason: servedDropWarning(f) ? 'served(leaves-switched): the gateway was last seen serving a leaf of the old CA' : 'rollover-grace(leaves-switched)' });
    else {
      const warning = [schedule.warning, servedDropWarning(f)].filter(Boolean).join('; ');
      return { kind: 'finish-rollover', drop: f.cas.map((ca) => ca.generation).filter((g) => g !== f.signingGeneration), reason: `both clusters trust only CA generation ${f.signingGeneration}`, ...(warning ? { warning } : {}) };
    }
  }
  return undefined;
}

/** A forced rotation is complete once both clusters hold what replaced the forced credentials. */
function completeForce({ f, behind }: Plan): Step | undefined {
  if (behind.length > 0) return undefined;
  if (f.forced?.ca && f.phase === 'stable' && f.signingGeneration >= f.forced.ca.generation) {
    return { kind: 'complete-force', scope: 'ca', reason: `CA generation ${f.signingGeneration} signs both leaves` };
  }
  const replace = f.forced?.leaf?.replace;
  if (replace && f.sides.every((side) => f.leaves[side]?.fingerprint !== replace[side])) {
    return { kind: 'complete-force', scope: 'leaf', reason: 'both leaves were re-issued' };
  }
  return undefined;
}

/**
 * A spec update's leftovers go once both clusters hold the link at its new places (the client
 * may dial the old server place until then); a failed attempt is retried like a failed sync.
 */
function clearStalePlaces({ f, t, s, waits }: Plan): Step | undefined {
  if (!f.stale || !f.sides.every((side) => f.clusters[side].status === 'synced')) return undefined;
  const retryAt = f.stale.failedAt ? f.stale.failedAt.getTime() + s.syncRetryMs : t;
  if (t >= retryAt) return { kind: 'clear-stale-places', reason: `${f.stale.places} place(s) the link moved away from are not cleared yet` };
  waits.push({ at: retryAt, reason: 'stale-retry' });
  return undefined;
}

function retireVersions({ f, now, s, waits }: Plan): Step | undefined {
  const retire = retirement(f, now, s);
  if (retire.disable.length > 0 || retire.destroy.length > 0) {
    return { kind: 'retire-versions', disable: retire.disable, destroy: retire.destroy, reason: 'superseded versions past their grace or retention' };
  }
  if (retire.nextAt !== undefined) waits.push({ at: retire.nextAt, reason: 'version-retirement' });
  return undefined;
}

/** Nothing to do now: when next? The earliest wait gathered, or the next renewal. */
function nextWake({ f, signing, rolloverStart, canIssue, waits, unsafe }: Plan): Step {
  const renewals = f.sides.flatMap((side) => (f.leaves[side] ? [f.leaves[side]!.renewAt.getTime()] : []));
  if (f.phase === 'stable') renewals.push(rolloverStart.getTime());
  else if (canIssue) renewals.push(signing.notAfter.getTime());
  const nextRenewal = Math.min(...renewals);
  if (unsafe.length > 0 || waits.length > 0) {
    const first = waits.reduce((a, b) => (b.at < a.at ? b : a), { at: Number.POSITIVE_INFINITY, reason: '' });
    const until = Math.min(first.at, nextRenewal);
    return { kind: 'wait', until: new Date(until), reason: until === first.at ? first.reason : 'renewal' };
  }
  return { kind: 'done', until: new Date(nextRenewal), reason: 'renewal' };
}
