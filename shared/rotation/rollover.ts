// The timing of a CA rollover (invariant 8: a rollover always finishes). Its two waits count from
// what they wait for: the trust wait from when both clusters first hold the old and the new CA,
// the switch wait from when both first present leaves of the new CA; a leaf rotation in between
// re-syncs a cluster but does not restart them. Each wait ends early, with a warning, rather
// than let the rollover run into the old CA's expiry. Pure.
import type { LinkState } from '../link/state.js';
import type { RotationFacts } from './facts.js';
import type { RotationSettings } from './plan.js';
import { issuedAt, rolloverWaitMs } from './renewal.js';

export type RolloverMarks = NonNullable<RotationFacts['rollover']>;

/**
 * The grace period of each rollover phase: the setting (or the forced minimum), but never more
 * than a quarter of what the old CA had left when the rollover began, so a short-lived CA ends its
 * rollover with time to spare, nor than an eighth of the new CA's life, so the rollover is over
 * well before the new CA's own is due (at the latest at half its life: latestRolloverStart).
 */
export function rolloverGraceMs(f: RotationFacts, s: RotationSettings): number {
  return capped(f, f.forced?.ca ? Math.min(s.forcedRolloverGraceMs, s.rolloverGraceMs) : s.rolloverGraceMs);
}

/**
 * The trust wait: the grace, or with a partner's side the partner lead (rolloverWaitMs), so the
 * partner has that long between ca.pem offering the new CA and our side presenting it; capped
 * like the grace. A forced rollover (a suspected compromise) does not wait for the partner.
 */
export function trustWaitMs(f: RotationFacts, s: RotationSettings): number {
  return f.partner === undefined || f.forced?.ca ? rolloverGraceMs(f, s) : capped(f, rolloverWaitMs(s, true));
}

/** A wait as configured, within the caps of rolloverGraceMs; none when the new CA is trusted already. */
function capped(f: RotationFacts, configured: number): number {
  if (sameAnchors(f)) return 0;
  const left = oldCaLeftAtStart(f);
  if (left === undefined) return configured;
  const newest = f.cas[f.cas.length - 1]!;
  const newLife = newest.notAfter.getTime() - issuedAt(newest.notBefore, newest.notAfter).getTime();
  return Math.max(0, Math.min(configured, Math.floor(left / 4), Math.floor(newLife / 8)));
}

/**
 * A rollover to a CA under the very roots the old one anchors to (an issuer's new issuing CA under
 * the same root): every ca.crt that trusts the old CA trusts the new one already, so neither wait
 * has anything to wait for.
 */
function sameAnchors(f: RotationFacts): boolean {
  const [old, newest] = [f.cas[0], f.cas[f.cas.length - 1]];
  if (!old?.anchors || !newest?.anchors || old === newest) return false;
  return newest.anchors.every((a) => old.anchors!.includes(a));
}

/** What the old CA had left when the newest was minted; undefined outside a rollover. */
function oldCaLeftAtStart(f: RotationFacts): number | undefined {
  const old = f.cas[0];
  const newest = f.cas[f.cas.length - 1];
  if (!old || !newest || old === newest) return undefined;
  return old.notAfter.getTime() - issuedAt(newest.notBefore, newest.notAfter).getTime();
}

/** The last time a cluster Secret was written (or failed), or the phase began: when the state alone says a condition came to hold. */
function lastChange(f: RotationFacts): Date {
  return new Date(Math.max(f.phaseSince.getTime(), ...f.sides.map((side) => f.clusters[side].at?.getTime() ?? 0)));
}

/**
 * When the current rollover's waits began: as recorded, else derived from the sync records if
 * both clusters hold the condition now. Recorded after every step (recordRollover), so derived
 * times are those of the step that made the condition hold; for a state stored by older code the
 * derived time is the last sync, as that code counted, once.
 */
export function rolloverMarks(f: RotationFacts): RolloverMarks | undefined {
  const newest = f.cas[f.cas.length - 1];
  if (f.phase === 'stable' || !newest || f.cas.length < 2) return undefined;
  const recorded = f.rollover?.generation === newest.generation ? f.rollover : undefined;
  const generations = f.cas.map((ca) => ca.generation);
  // Unknown trust (a record from before it was kept) does not block, as in syncIsSafe. A partner's
  // trust cannot be seen: its wait counts from when ca.pem first offered the new CA (the mint).
  const trusted = f.partner !== undefined || f.sides.every((side) => {
    const c = f.clusters[side];
    return c.version !== undefined && (c.trust === undefined || generations.every((g) => c.trust!.includes(g)));
  });
  const switched = f.signingGeneration === newest.generation && f.sides.every((side) => f.clusters[side].caGeneration === newest.generation);
  const trustedAt = recorded?.trustedAt ?? (f.partner !== undefined ? f.phaseSince : trusted ? lastChange(f) : undefined);
  // Older code entered leaves-switched when both presented the new leaves, and counted from then.
  const switchedAt = recorded?.switchedAt ?? (switched ? (f.phase === 'leaves-switched' ? f.phaseSince : lastChange(f)) : undefined);
  return { generation: newest.generation, ...(trustedAt ? { trustedAt } : {}), ...(switchedAt ? { switchedAt } : {}) };
}

/** The state with its rollover progress recorded (`f`: the facts of that state); dropped once the rollover is over. */
export function recordRollover(state: LinkState, f: RotationFacts): LinkState {
  const marks = rolloverMarks(f);
  const { rollover: _old, ...rest } = state;
  if (!marks) return rest;
  return {
    ...rest,
    rollover: {
      generation: marks.generation,
      ...(marks.trustedAt ? { trustedAt: marks.trustedAt.toISOString() } : {}),
      ...(marks.switchedAt ? { switchedAt: marks.switchedAt.toISOString() } : {}),
    },
  };
}

export interface RolloverSchedule {
  /** When the new CA starts signing (once both clusters trust it). */
  switchAt?: number;
  /** When the old CA leaves both ca.crt (once both clusters present leaves of the new CA). */
  dropAt?: number;
  /** Set when a wait is cut short (or cannot end in time) to finish before the old CA expires. */
  warning?: string;
}

/**
 * The ends of the current rollover's waits. The rollover ends a margin (a quarter of what the old
 * CA had left at its start) before the old CA expires: the switch wait ends by then, the trust
 * wait a grace earlier, whatever the waits' start; a wait cut short by that carries a warning.
 */
export function rolloverSchedule(f: RotationFacts, now: Date, s: RotationSettings): RolloverSchedule {
  const left = oldCaLeftAtStart(f);
  const marks = rolloverMarks(f);
  if (left === undefined || !marks) return {};
  const old = f.cas[0]!;
  const grace = rolloverGraceMs(f, s);
  const trustWait = trustWaitMs(f, s);
  const finishBy = old.notAfter.getTime() - Math.max(0, Math.floor(left / 4));
  const switchBy = finishBy - grace;
  const late = (wait: string, by: number) =>
    `the rollover runs late: its ${wait} wait ends at ${new Date(by).toISOString()}, before its grace, so it finishes before CA generation ${old.generation} expires at ${old.notAfter.toISOString()}`;
  const schedule: RolloverSchedule = {};
  const switching = f.signingGeneration !== marks.generation;
  if (switching) {
    const full = marks.trustedAt ? marks.trustedAt.getTime() + trustWait : undefined;
    if (full !== undefined) schedule.switchAt = Math.min(full, switchBy);
    if ((full ?? now.getTime()) > switchBy) schedule.warning = late('trust', switchBy);
  } else {
    const full = marks.switchedAt ? marks.switchedAt.getTime() + grace : undefined;
    if (full !== undefined) schedule.dropAt = Math.min(full, finishBy);
    if ((full ?? now.getTime()) > finishBy) schedule.warning = late('switch', finishBy);
  }
  return schedule;
}
