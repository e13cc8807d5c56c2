// Use-case: the link health probe. Dials the link's server end as its egress gateway would (the
// client credential, SNI the host, the trust and pins of the client Secret) and records what was
// served in the link's state (`probe`): whether the gateway serves the current leaf, an old one,
// or nothing we accept. POST /links/{name}:probe runs it now; the sweep probes every link.
import pLimit from 'p-limit';
import { MeshlinkError, isMeshlinkError } from '../errors.js';
import { leaseHeld, specStored } from '../link/state.js';
import { errorFields } from '../log.js';
import { LOG_EVENTS } from '../log-events.js';
import { probeRecord, probeTarget, sweepRecords, type ProbeRecord } from '../link/probe.js';
import type { ProbeObservation } from '../probe/port.js';
import { readCredential } from './credentials.js';
import type { AppDeps } from './deps.js';
import { loadLink, type LinkRecord } from './link-record.js';
import { readSpec } from './stored-spec.js';

export interface ProbeOptions {
  /** `always` (POST :probe: the answer is what GET shows next), or `on-change` (the sweep: a write only when the verdict changed). */
  save: 'always' | 'on-change';
  /** The link as already read (the sweep's listing): no metadata read then, but on a conflicting save. */
  record?: LinkRecord;
}

/** Probes one link now and records the result; `not-found` for no such link. */
export async function probeLink(deps: AppDeps, name: string, options: ProbeOptions = { save: 'always' }): Promise<ProbeRecord> {
  const prober = deps.prober;
  if (!prober) throw new MeshlinkError('internal', 'no prober is configured in this deployment');
  const loaded = options.record ?? (await loadLink(deps, name));
  if (!loaded || !specStored(loaded.state) || loaded.state.deleted) throw new MeshlinkError('not-found', `link ${name} not found`);
  const spec = await readSpec(deps, loaded);
  const target = probeTarget(spec, loaded.state);
  let observation: ProbeObservation | undefined;
  if (!('skip' in target)) {
    const { credential } = await readCredential(deps, name, 'client', loaded.state.leaves.client!.version);
    observation = await prober.probe({ ...target, credential, timeoutMs: deps.settings.probe.timeoutMs });
  }
  const result = probeRecord(target, observation, loaded.state, deps.clock(), loaded.state.probe);
  logResult(deps, name, result);
  await saveProbe(deps, loaded, result, options.save);
  return result;
}

function logResult(deps: AppDeps, link: string, result: ProbeRecord): void {
  const served = result.served ? { fingerprint: result.served.fingerprint, notAfter: result.served.notAfter } : {};
  if (result.outcome === 'error') {
    deps.log.warn('probe failed', { event: LOG_EVENTS.probeFailed, link, target: result.target, kind: result.error!.kind, reason: result.error!.message, ...served });
  } else if (result.current === false) {
    deps.log.warn('probe: the gateway serves an older leaf than the stored one', { link, target: result.target, ...served });
  }
}

/**
 * Writes the result into the link's state with one compare-and-swap save on the record as read
 * before the dial (read again only if it changed meanwhile). Never while a worker holds the link
 * (its next save would conflict): the result is then only answered and logged, and the next probe
 * records it.
 */
async function saveProbe(deps: AppDeps, loaded: LinkRecord, result: ProbeRecord, save: ProbeOptions['save']): Promise<void> {
  let record: LinkRecord | undefined = loaded;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (attempt > 0) record = await loadLink(deps, loaded.link);
    if (!record || record.state.deleted) return;
    if (save === 'on-change' && !sweepRecords(record.state.probe, result)) return;
    if (leaseHeld(record.state, deps.clock())) return;
    record.state = { ...record.state, probe: result };
    try {
      await record.save();
      return;
    } catch (err) {
      if (!isMeshlinkError(err, 'conflict')) throw err;
    }
  }
}

export interface ProbeSummary {
  ok: number;
  /** Links whose probe failed, with the error. */
  failed: { link: string; error: string }[];
  /** Links whose gateway served an older leaf than the stored one. */
  oldLeaf: string[];
  skipped: number;
}

export function emptyProbeSummary(): ProbeSummary {
  return { ok: 0, failed: [], oldLeaf: [], skipped: 0 };
}

/**
 * Probes the links, `settings.probe.concurrency` at a time, adding to `summary`; one link's failure
 * does not stop the others. A link given with its record (as listed) costs no metadata read.
 */
export async function probeLinks(deps: AppDeps, links: readonly { link: string; record?: LinkRecord }[], summary = emptyProbeSummary()): Promise<ProbeSummary> {
  const limit = pLimit(deps.settings.probe.concurrency);
  await Promise.all(
    links.map(({ link, record }) =>
      limit(async () => {
        try {
          const result = await probeLink(deps, link, { save: 'on-change', ...(record ? { record } : {}) });
          if (result.outcome === 'skipped') summary.skipped++;
          else if (result.outcome === 'error') summary.failed.push({ link, error: `${result.error!.kind}: ${result.error!.message}` });
          else summary.ok++;
          if (result.current === false) summary.oldLeaf.push(link);
        } catch (err) {
          if (isMeshlinkError(err, 'not-found')) return; // deleted meanwhile
          deps.log.error('probe could not run', { link, ...errorFields(err) });
          summary.failed.push({ link, error: String(errorFields(err).error) });
        }
      }),
    ),
  );
  summary.failed.sort((a, b) => (a.link < b.link ? -1 : 1));
  summary.oldLeaf.sort();
  return summary;
}
