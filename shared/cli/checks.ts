// `meshlink check`: named conditions over what the API reports, each a line with a mark. Pure:
// gathered statuses and the time in, verdicts out (the command gathers and prints).
import type { LinkStatus } from '../app/status.js';
import { relativeTime } from './format.js';

export interface CheckResult {
  /** Stable name for scripts: `server`, `synced`, `renewal`, `cleanup`, `probe`, `issuer-validity`. */
  check: string;
  /** What it is about: `link/mysql`, `issuer/corp`, the server URL. */
  subject: string;
  /** `skipped`: the condition cannot be evaluated here (e.g. the server has no issuers). */
  status: 'ok' | 'failed' | 'skipped';
  message: string;
}

/** An issuer as `check` reads it: its name and when it expires. */
export interface IssuerView {
  name: string;
  notAfter?: string;
}

const SIDES = ['client', 'server'] as const;

function result(check: string, subject: string, failures: string[], okMessage: string): CheckResult {
  return failures.length ? { check, subject, status: 'failed', message: failures.join('; ') } : { check, subject, status: 'ok', message: okMessage };
}

export function syncedCheck(link: LinkStatus): CheckResult {
  const failures = SIDES.filter((s) => link[s].sync.status !== 'synced').map((s) => {
    const error = link[s].clusterSecret?.lastError ?? link[s].sync.error;
    return `${s} side is ${link[s].sync.status}${error ? `: ${error}` : ''}`;
  });
  return result('synced', `link/${link.name}`, failures, 'both sides synced');
}

/** The credentials of a link with their renewal and expiry times. */
function credentials(link: LinkStatus): { what: string; renewAt?: string; notAfter?: string }[] {
  return [
    ...link.ca.map((ca) => ({ what: `CA generation ${ca.generation}`, renewAt: ca.renewAt, notAfter: ca.notAfter })),
    ...SIDES.map((s) => ({ what: `${s} certificate`, ...(link[s].renewAt ? { renewAt: link[s].renewAt } : {}), ...(link[s].notAfter ? { notAfter: link[s].notAfter } : {}) })),
  ];
}

/** A credential in its renewal window is fine while the rotation has a step for it; an expired one never is. */
export function renewalCheck(link: LinkStatus, now: Date): CheckResult {
  const next = link.rotation.next;
  const scheduled = next !== undefined && next.step !== 'done' && next.step !== 'blocked';
  const failures: string[] = [];
  for (const c of credentials(link)) {
    if (c.notAfter && new Date(c.notAfter) <= now) failures.push(`${c.what} expired ${relativeTime(c.notAfter, now)}`);
    else if (c.renewAt && new Date(c.renewAt) <= now && !scheduled) {
      failures.push(`${c.what} is in its renewal window (expires ${relativeTime(c.notAfter, now)}) and no renewal is scheduled${next ? ` (${next.step}: ${next.reason})` : ''}`);
    }
  }
  return result('renewal', `link/${link.name}`, failures, 'no credential in its renewal window without a renewal scheduled');
}

export function cleanupCheck(link: LinkStatus): CheckResult {
  const pending = link.pendingCleanup ?? [];
  const failures = pending.map((p) => (p.what === 'objects' ? `${p.side} objects left in ${p.cluster}/${p.namespace}` : `a port left on ${p.cluster}/${p.namespace}/${p.service}`));
  return result('cleanup', `link/${link.name}`, failures.length ? [`pending cleanup: ${failures.join(', ')}`] : [], 'no pending cleanup');
}

/** The issuer a link uses, as its status (`issuer.name`) or spec (`issuer`) names it. */
function issuerOf(link: LinkStatus): string | undefined {
  const named: unknown = link.issuer?.name ?? (link.spec as { issuer?: unknown } | undefined)?.issuer;
  return typeof named === 'string' ? named : undefined;
}

/** Each issuer outlives the leaves of every link it serves. */
export function issuerChecks(issuers: IssuerView[] | 'unsupported', links: LinkStatus[]): CheckResult[] {
  if (issuers === 'unsupported') return [{ check: 'issuer-validity', subject: 'issuers', status: 'skipped', message: 'not supported by this server' }];
  return issuers.map((issuer) => {
    const leaves = links.filter((l) => issuerOf(l) === issuer.name).flatMap((l) => SIDES.map((s) => ({ link: l.name, notAfter: l[s].notAfter })));
    const failures = !issuer.notAfter
      ? ['its expiry is unknown']
      : leaves.filter((leaf) => leaf.notAfter && new Date(leaf.notAfter) >= new Date(issuer.notAfter!)).map((leaf) => `expires before a leaf of link ${leaf.link}`);
    return result('issuer-validity', `issuer/${issuer.name}`, [...new Set(failures)], `valid longer than the leaves of its ${new Set(leaves.map((l) => l.link)).size} link(s)`);
  });
}

/** The last probe of the server end: failed, or an old leaf served, fails; none or skipped is skipped (a server of older code has no probe). */
export function probeCheck(link: LinkStatus, now: Date): CheckResult {
  const subject = `link/${link.name}`;
  const probe = link.probe;
  if (!probe) return { check: 'probe', subject, status: 'skipped', message: 'not probed yet' };
  const seen = `(probed ${relativeTime(probe.at, now)})`;
  if (probe.outcome === 'skipped') return { check: 'probe', subject, status: 'skipped', message: `not probed: ${probe.reason ?? 'no reason given'}` };
  if (probe.outcome === 'error') return { check: 'probe', subject, status: 'failed', message: `probe of ${probe.target ?? 'the server'} failed, ${probe.error?.kind ?? 'error'}: ${probe.error?.message ?? ''} ${seen}` };
  if (probe.current === false) return { check: 'probe', subject, status: 'failed', message: `the gateway at ${probe.target ?? 'the server'} serves an older leaf than the stored one ${seen}` };
  return { check: 'probe', subject, status: 'ok', message: `${probe.partner ? "the partner's server" : 'the gateway'} serves ${probe.partner ? 'a certificate we accept' : 'the current leaf'} ${seen}` };
}

export function linkChecks(links: LinkStatus[], now: Date): CheckResult[] {
  return links.flatMap((link) => [syncedCheck(link), renewalCheck(link, now), cleanupCheck(link), probeCheck(link, now)]);
}

const MARK: Record<CheckResult['status'], string> = { ok: '√', failed: '×', skipped: '-' };

export function checkLine(c: CheckResult): string {
  return `${MARK[c.status]} ${c.subject}: ${c.message}`;
}
