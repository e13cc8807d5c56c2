// What the status page shows of a link, derived from its summary (the listing's metadata alone;
// a full LinkStatus is one too): the two sides, sync, errors, issuer, expiries, and the events of
// the timeline. Pure (summaries and `now` in, plain data out).
// Partner sides and external issuers come with later work: their fields are read when a status
// carries them, and the page shows a cluster and "own CA" until then.
import type { LinkSummary, SideSummary } from '../app/status.js';
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
  /** Needs attention: an error, a side not synced, or a renewal overdue. */
  unhealthy: boolean;
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
    unhealthy: !!lastError || sides.some((s) => !s.synced) || overdue,
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
