// Use-case: the rotation sweep. Lists link metadata page by page (labels managed-by=meshlink,
// meshlink-role=link), decides from each state alone whether the link is due (no payload read for
// a link that is not), and hands the due ones to the queue, one page at a time. Issuers are listed
// once, when a listed link has one: a replaced bundle makes the links under it due. Secret Manager
// allows 600 metadata reads a minute: a sweep costs one read per page of up to sweepPageSize links.
// Every listed link gets one log line with its days to expiry (the expiry alerts count those), and
// every sweep one summary line. Pacing: a sweep hands over no more due links than the write
// budget allows in a minute (MESHLINK_WRITE_BUDGET over WRITES_PER_ROTATION); the rest are still
// due at the next sweep (one a minute by default), so a burst of due links is spread over minutes
// instead of meeting Secret Manager's quota of 600 writes a minute per project. Unless
// MESHLINK_PROBE=off, it also probes each page's links' server ends (app/probe.ts), a few at a
// time, once the page's due links are handed over.
import { STORE_LABEL_LINK } from '../link/names.js';
import { decodeState, leaseHeld, specStored } from '../link/state.js';
import { errorFields } from '../log.js';
import { LOG_EVENTS } from '../log-events.js';
import { dueReason } from '../rotation/due.js';
import { expiryFacts } from '../rotation/expiry.js';
import type { AppDeps } from './deps.js';
import { emptyProbeSummary, probeLinks, type ProbeSummary } from './probe.js';
import { LinkRecord, linkSecretPages } from './link-record.js';
import { issuerTargets } from './issuers.js';
import type { RotationOutcome } from './rotate.js';
import type { DueLink, RotationQueue } from '../queue/port.js';

/**
 * Store writes one due link's run costs at most in the usual case: a leaf rotation, two per
 * credential (a new version each; the lease and the state in two metadata updates). A rollover
 * step costs about as much; enforced in test/integration/store-quota.test.ts.
 */
export const WRITES_PER_ROTATION = 4;

/** Due links one sweep hands over. */
export function linksPerSweep(writeBudget: number): number {
  return Math.max(1, Math.floor(writeBudget / WRITES_PER_ROTATION));
}

export interface SweepReport {
  at: string;
  /** Link secrets listed, and the listing pages it took. */
  listed: number;
  pages: number;
  due: DueLink[];
  /** What became of the due links when the queue rotated them in the sweep (in-process); empty when it passed them on (Pub/Sub). */
  rotated: RotationOutcome[];
  /** Due but left alone this time (another worker holds the link). */
  skipped: { link: string; reason: string }[];
  /** Due links left for the next sweep: the write budget was spent (pacing). */
  deferred: number;
  errors: { link: string; error: string }[];
  /** Days to the earliest leaf expiry among the listed links (none issued: absent). */
  minDaysToExpiry?: number;
  /** What the probes of the listed links found (absent: probing off). */
  probes?: ProbeSummary;
}

export async function sweep(deps: AppDeps, queue: RotationQueue): Promise<SweepReport> {
  const now = deps.clock();
  const report: SweepReport = { at: now.toISOString(), listed: 0, pages: 0, due: [], rotated: [], skipped: [], deferred: 0, errors: [] };
  const probing = deps.prober && deps.settings.probe.sweep;
  if (probing) report.probes = emptyProbeSummary();
  const issuer = issuerTargets(deps);
  const budget = linksPerSweep(deps.settings.writeBudget);
  for await (const page of linkSecretPages(deps)) {
    report.pages++;
    const due: DueLink[] = [];
    const toProbe: { link: string; record?: LinkRecord }[] = [];
    for (const meta of page) {
      report.listed++;
      const link = meta.labels[STORE_LABEL_LINK];
      if (!link) continue;
      try {
        const state = decodeState(meta.annotations, meta.id);
        if (!state) continue;
        const target = state.issuer ? await issuer(state.issuer) : undefined;
        const expiry = expiryFacts(state, now, target);
        if (expiry) {
          deps.log.info('link expiry', { event: LOG_EVENTS.linkExpiry, link, ...expiry });
          if (report.minDaysToExpiry === undefined || expiry.daysToExpiry < report.minDaysToExpiry) report.minDaysToExpiry = expiry.daysToExpiry;
        }
        const reason = dueReason(state, link, now, deps.settings, target);
        // The listed state serves a link left alone; a due one is read again after its rotation.
        if (probing && specStored(state) && !state.deleted) toProbe.push({ link, ...(reason ? {} : { record: new LinkRecord(deps, link, meta, state) }) });
        if (!reason) continue;
        if (leaseHeld(state, now)) report.skipped.push({ link, reason: `held by another worker until ${state.lease!.until}` });
        else if (report.due.length + due.length >= budget) report.deferred++;
        else due.push({ link, reason, dedupKey: `${link}@${state.updatedAt}` });
      } catch (err) {
        deps.log.error('cannot decide on link', { link, secret: meta.id, ...errorFields(err) });
        report.errors.push({ link, error: String(errorFields(err).error) });
      }
    }
    // Page by page: a sweep cut short still hands over what it found.
    if (due.length > 0) report.rotated.push(...((await queue.enqueue(due)) ?? []));
    report.due.push(...due);
    // After the page's rotations (in process): a probe then sees what they synced.
    if (report.probes) await probeLinks(deps, toProbe, report.probes);
  }
  deps.log.info('sweep done', {
    event: LOG_EVENTS.sweepDone,
    listed: report.listed,
    pages: report.pages,
    due: report.due.length,
    skipped: report.skipped.length,
    deferred: report.deferred,
    errors: report.errors.length,
    ...(report.minDaysToExpiry !== undefined ? { minDaysToExpiry: report.minDaysToExpiry } : {}),
    ...(report.probes ? { probesFailed: report.probes.failed.length, probesOldLeaf: report.probes.oldLeaf.length } : {}),
  });
  return report;
}
