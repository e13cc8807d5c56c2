// What the status page shows of a link, derived from its summary (the listing's metadata alone;
// a full LinkStatus is one too): the two sides, sync, errors, issuer, expiries, and the events of
// the timeline. Pure (summaries and `now` in, plain data out).
// Partner sides and external issuers come with later work: their fields are read when a status
// carries them, and the page shows a cluster and "own CA" until then.
import type { LinkSummary, ProbeVerdict, SideSummary } from '../app/status.js';
import { newestCa } from '../link/state.js';

export type SideName = 'client' | 'server';

export interface SideView {
  side: SideName;
  /** `cluster` today; `partner` when the status names an external partner for the side. */
  kind: 'cluster' | 'partner';
  name: string;
  sync: string;
  synced: boolean;
  lastError?: string;
}

export interface LinkRow {
  name: string;
  sides: SideView[];
  phase: string;
  synced: boolean;
  lastError?: string;
  issuer: string;
  caGeneration: number;
  /** The earliest expiry of the two leaves. */
  leafExpiry?: string;
  nextRenewal?: string;
  /** The last probe of the server end, in words (absent: never probed). */
  probe?: ProbeView;
  /** Needs attention: an error, a side not synced, a renewal overdue, or a probe that failed or saw an old leaf. */
  unhealthy: boolean;
}

export interface ProbeView {
  text: string;
  healthy: boolean;
  at: string;
  /** The error or skip reason in full. */
  detail?: string;
}

/** A probe verdict for people: ok, an old leaf served, skipped, or the error's kind. */
export function probeView(probe: ProbeVerdict | undefined): ProbeView | undefined {
  if (!probe) return undefined;
  const at = probe.at;
  if (probe.outcome === 'error') return { text: probe.error?.kind ?? 'error', healthy: false, at, ...(probe.error ? { detail: probe.error.message } : {}) };
  if (probe.outcome === 'skipped') return { text: 'not probed', healthy: true, at, ...(probe.reason ? { detail: probe.reason } : {}) };
  if (probe.current === false) return { text: 'old leaf served', healthy: false, at, detail: 'the gateway serves an older leaf than the stored one (it did not reload the Secret)' };
  return { text: 'ok', healthy: true, at };
}

export type TimelineKind = 'renewal' | 'leaf-expiry' | 'ca-expiry';

export interface TimelineEvent {
  link: string;
  kind: TimelineKind;
  at: string;
  label: string;
}

const SIDES: SideName[] = ['client', 'server'];

/** A name from a field that is a string or an object with a `name` (the shapes later work may add). */
function nameOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (value && typeof value === 'object' && typeof (value as { name?: unknown }).name === 'string') return (value as { name: string }).name;
  return undefined;
}

export function sideView(status: LinkSummary, side: SideName): SideView {
  const s: SideSummary = status[side];
  const partner = nameOf((s as { partner?: unknown }).partner);
  const lastError = s.clusterSecret.lastError ?? (s.sync.status !== 'synced' ? s.sync.error : undefined);
  return {
    side,
    kind: partner ? 'partner' : 'cluster',
    name: partner ?? s.cluster,
    sync: s.sync.status,
    synced: s.sync.status === 'synced',
    ...(lastError ? { lastError } : {}),
  };
}

/** The issuer of the link's certificates: its own CA unless the status names an external issuer. */
export function issuerOf(status: LinkSummary): string {
  return nameOf((status as { issuer?: unknown }).issuer) ?? 'own CA';
}

function earliest(times: (string | undefined)[]): string | undefined {
  return times.filter((t): t is string => !!t).sort((a, b) => new Date(a).getTime() - new Date(b).getTime())[0];
}

export function linkRow(status: LinkSummary, now: Date): LinkRow {
  const sides = SIDES.map((side) => sideView(status, side));
  const lastError = status.lastError ?? sides.find((s) => s.lastError)?.lastError;
  const leafExpiry = earliest(SIDES.map((side) => status[side].notAfter));
  const overdue = !!status.nextRenewal && new Date(status.nextRenewal) <= now;
  const probe = probeView(status.probe);
  return {
    name: status.name,
    sides,
    phase: status.phase,
    synced: sides.every((s) => s.synced),
    ...(lastError ? { lastError } : {}),
    issuer: issuerOf(status),
    caGeneration: status.rotation.signingGeneration,
    ...(leafExpiry ? { leafExpiry } : {}),
    ...(status.nextRenewal ? { nextRenewal: status.nextRenewal } : {}),
    ...(probe ? { probe } : {}),
    unhealthy: !!lastError || sides.some((s) => !s.synced) || overdue || probe?.healthy === false,
  };
}

/** The coming renewals and expiries of the links (past ones included: they are overdue). */
export function timelineEvents(statuses: readonly LinkSummary[]): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  for (const status of statuses) {
    if (status.nextRenewal) events.push({ link: status.name, kind: 'renewal', at: status.nextRenewal, label: 'next renewal' });
    for (const side of SIDES) {
      const notAfter = status[side].notAfter;
      if (notAfter) events.push({ link: status.name, kind: 'leaf-expiry', at: notAfter, label: `${side} certificate expires` });
    }
    const ca = newestCa(status.ca);
    if (ca) events.push({ link: status.name, kind: 'ca-expiry', at: ca.notAfter, label: `CA generation ${ca.generation} expires` });
  }
  return events;
}
