// Use-case: rotate one link. Gather (state + the payloads the checks need), decide (the pure
// plan), act (one step: a store write or one cluster Secret write, then a state save), and again,
// until the plan says wait. Every step is idempotent and persisted before the next, so a crash at
// any point is completed by the next run (invariant 5); the lease makes two workers rotate once.
import { isMeshlinkError, MeshlinkError } from '../errors.js';
import type { LinkSpec } from '../link/spec.js';
import { bundleTrust, retireVersions, specStored, withRetired, type LinkState, type RetiredVersion } from '../link/state.js';
import { errorFields } from '../log.js';
import { LOG_EVENTS } from '../log-events.js';
import { chainsToAny, inspectCertificate, keyMatchesCertificate, splitPemBundle } from '../pki/inspect.js';
import type { SdsCredential } from '../pki/types.js';
import { dueReason, linkFacts } from '../rotation/due.js';
import { SIDES, type IssuerTarget, type LeafPayloadFacts, type RotationFacts } from '../rotation/facts.js';
import { recordForce, type ForceScope } from '../rotation/force.js';
import { describeStep, isAction, planNextStep, type Step } from '../rotation/plan.js';
import { nextRenewal, rolloverWaitMs } from '../rotation/renewal.js';
import { recordRollover } from '../rotation/rollover.js';
import { readCa, readCredential, secretIdOf, storeNewCa, storeNewLeaf, storeTrustUpdate } from './credentials.js';
import type { AppDeps } from './deps.js';
import { finishDeletion } from './delete.js';
import { issuerTarget } from './issuers.js';
import { loadLink, withLease, type LinkRecord } from './link-record.js';
import { readSpec } from './stored-spec.js';
import { pruneStale } from './prune.js';
import { clusterOf, failedSync, syncSide } from './sync.js';

/** A run stops after this many steps: a full rollover phase takes about eight. */
const MAX_STEPS = 40;

export interface RotationOutcome {
  link: string;
  /** rotated: steps were taken; not-due: nothing to do; busy: another worker holds the link. */
  outcome: 'rotated' | 'not-due' | 'busy' | 'not-found' | 'blocked' | 'failed';
  steps: string[];
  reason?: string;
  /** When the link has work next (a grace period ending, a renewal). */
  next?: { at: string; reason: string };
  error?: string;
}

/** Payloads are immutable per version: read each once per run. */
class PayloadCache {
  private readonly entries = new Map<string, Promise<unknown>>();
  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.entries.get(key) as Promise<T> | undefined;
    if (!p) {
      p = load();
      this.entries.set(key, p);
      p.catch(() => this.entries.delete(key));
    }
    return p;
  }
}

function payloadFacts(credential: SdsCredential, state: LinkState, caCerts: Map<number, string>, recordedTrust: number[]): LeafPayloadFacts {
  const cert = credential['tls.crt'];
  const summary = inspectCertificate(cert);
  const fingerprints = splitPemBundle(credential['ca.crt']).map((pem) => inspectCertificate(pem).fingerprint);
  const { trust, foreign: foreignTrust } = bundleTrust(fingerprints, state.cas, recordedTrust);
  return {
    keyMatches: keyMatchesCertificate(cert, credential['tls.key']),
    dnsNames: summary.dnsNames,
    uris: summary.uris,
    // Through the chain the leaf is sent with: a CA pool's generation is its roots, above the pool's issuing CA.
    issuedBy: [...caCerts].filter(([, caCert]) => chainsToAny(cert, caCert)).map(([generation]) => generation),
    trust,
    foreignTrust,
  };
}

/** Gather: the state's facts, completed with what the stored payloads say. */
export async function gatherFacts(deps: AppDeps, spec: LinkSpec, state: LinkState, cache = new PayloadCache(), issuer?: IssuerTarget): Promise<RotationFacts> {
  const facts = linkFacts(spec, state, issuer);
  const caCerts = new Map<number, string>();
  for (const ca of state.cas) {
    caCerts.set(ca.generation, await cache.get(`ca@${ca.version}`, async () => (await readCa(deps, spec.name, ca.version)).certificate));
  }
  for (const side of SIDES) {
    const leaf = facts.leaves[side];
    if (!leaf) continue;
    try {
      // Facts of a version depend only on it and on the link's CAs: computed once per run.
      const key = `${side}@${leaf.version}/${state.cas.map((ca) => `${ca.generation}:${ca.version}`).join(',')}`;
      leaf.payload = await cache.get(key, async () => payloadFacts((await readCredential(deps, spec.name, side, leaf.version)).credential, state, caCerts, leaf.trust));
    } catch (err) {
      if (!isMeshlinkError(err, 'not-found')) throw err;
      // The recorded version is gone (disabled or destroyed by hand): the credential is missing.
      deps.log.warn('recorded credential version is not readable', { link: spec.name, side, version: leaf.version });
      delete facts.leaves[side];
    }
  }
  return facts;
}

/** A step that changes something, and what acting on one has. */
type Action = Exclude<Step, { kind: 'wait' | 'done' | 'blocked' }>;
interface ActionInput {
  deps: AppDeps;
  spec: LinkSpec;
  state: LinkState;
  now: Date;
}
/** The state after the step, and the error of a failed sync or clean-up (recorded, not thrown). */
interface Acted {
  state: LinkState;
  error?: string;
}
type ActOn<K extends Action['kind']> = (input: ActionInput, step: Extract<Action, { kind: K }>) => Promise<Acted>;

async function mintCa({ deps, spec, state: s, now }: ActionInput, step: Extract<Action, { kind: 'mint-ca' }>): Promise<Acted> {
  const { record: ca, orphans } = await storeNewCa(deps, s, spec, step.generation, now);
  const first = s.cas.length === 0;
  return { state: retireVersions({ ...s, cas: [...s.cas, ca], ...(first ? { signingGeneration: ca.generation } : { phase: 'trust-added', phaseSince: now.toISOString() }) }, 'ca', orphans, now) };
}

/** issue-leaf and publish-trust: a new credential version of one side. */
async function storeLeaf({ deps, spec, state: s, now }: ActionInput, step: Extract<Action, { kind: 'issue-leaf' | 'publish-trust' }>): Promise<Acted> {
  const old = s.leaves[step.side];
  const { record: leaf, orphans } = step.kind === 'issue-leaf' ? await storeNewLeaf(deps, s, spec, step.side, now, step.trust) : await storeTrustUpdate(deps, s, spec, step.side, step.trust);
  // The version it replaces, and any a crashed run stored and no run recorded, are retired alike.
  return { state: retireVersions({ ...s, leaves: { ...s.leaves, [step.side]: leaf } }, step.side, [old?.version, ...orphans], now) };
}

/** A failed sync is recorded in the state (tried again later), not thrown; a bug is. */
async function syncCluster({ deps, spec, state: s, now }: ActionInput, step: Extract<Action, { kind: 'sync' }>): Promise<Acted> {
  const synced = (sync: LinkState['sync'][typeof step.side]) => ({ ...s, sync: { ...s.sync, [step.side]: sync } });
  try {
    return { state: synced(await syncSide(deps, spec, s, step.side)) };
  } catch (err) {
    if (isMeshlinkError(err, 'internal')) throw err;
    deps.log.warn('could not sync link side', { event: LOG_EVENTS.syncFailed, link: spec.name, cluster: clusterOf(spec, step.side), side: step.side, ...errorFields(err) });
    const sync = failedSync(s.sync[step.side], err, now.toISOString());
    return { state: synced(sync), ...(sync.error !== undefined ? { error: sync.error } : {}) };
  }
}

async function finishRollover({ state: s, now }: ActionInput, step: Extract<Action, { kind: 'finish-rollover' }>): Promise<Acted> {
  const dropped = s.cas.filter((c) => step.drop.includes(c.generation)).map((c) => c.version);
  return { state: retireVersions({ ...s, cas: s.cas.filter((c) => !step.drop.includes(c.generation)), phase: 'stable', phaseSince: now.toISOString() }, 'ca', dropped, now) };
}

/** Disable and destroy are idempotent: after a crash here, the next run repeats them harmlessly. */
async function retireSuperseded({ deps, spec, state: s }: ActionInput, step: Extract<Action, { kind: 'retire-versions' }>): Promise<Acted> {
  const done = async (fn: (id: string, version: string) => Promise<void>, v: RetiredVersion) => {
    try {
      await fn.call(deps.store, secretIdOf(deps, spec.name, v.role), v.version);
    } catch (err) {
      if (!isMeshlinkError(err, 'not-found')) throw err;
    }
  };
  for (const v of step.disable) await done(deps.store.disableVersion, v);
  for (const v of step.destroy) await done(deps.store.destroyVersion, v);
  const key = (v: RetiredVersion) => `${v.role}@${v.version}`;
  const destroyed = new Set(step.destroy.map(key));
  const disabled = new Set(step.disable.map(key));
  const retired = (s.retired ?? []).filter((v) => !destroyed.has(key(v))).map((v) => (disabled.has(key(v)) ? { ...v, disabled: true } : v));
  deps.log.info('retired superseded versions', { link: spec.name, disabled: [...disabled], destroyed: [...destroyed] });
  return { state: withRetired(s, retired) };
}

async function clearStalePlaces({ deps, spec, state: s }: ActionInput): Promise<Acted> {
  const state = await pruneStale(deps, spec, s);
  const left = state.stale?.length ?? 0;
  if (left === 0) return { state };
  return { state, error: `could not clear ${left} of ${s.stale?.length ?? 0} places the link moved away from (retried after ${deps.settings.syncRetryMs} ms)` };
}

async function completeForce({ deps, spec, state: s }: ActionInput, step: Extract<Action, { kind: 'complete-force' }>): Promise<Acted> {
  const forced = { ...s.forced };
  delete forced[step.scope];
  const { forced: _done, ...rest } = s;
  deps.log.info('forced rotation complete', { link: spec.name, scope: step.scope });
  return { state: forced.leaf || forced.ca ? { ...rest, forced } : rest };
}

/** How to act on each kind of step. */
const ACTIONS: { [K in Action['kind']]: ActOn<K> } = {
  'mint-ca': mintCa,
  'issue-leaf': storeLeaf,
  'publish-trust': storeLeaf,
  sync: syncCluster,
  'switch-signing': async ({ state }, step) => ({ state: { ...state, signingGeneration: step.generation } }),
  'advance-phase': async ({ state, now }, step) => ({ state: { ...state, phase: step.phase, phaseSince: now.toISOString() } }),
  'finish-rollover': finishRollover,
  'retire-versions': retireSuperseded,
  'clear-stale-places': clearStalePlaces,
  'complete-force': completeForce,
};

/** Act: performs one step and saves the state. Returns the error of a failed sync (recorded, not thrown). */
async function act(deps: AppDeps, r: LinkRecord, spec: LinkSpec, step: Step, now: Date): Promise<string | undefined> {
  if (!isAction(step)) throw new MeshlinkError('internal', `not an action: ${step.kind}`);
  const before = r.state;
  const acted = await (ACTIONS[step.kind as Action['kind']] as ActOn<Action['kind']>)({ deps, spec, state: before, now }, step as Action);
  // When both clusters came to hold the rollover's trust or new leaves: its waits count from then.
  r.state = recordRollover(acted.state, linkFacts(spec, acted.state));
  // A sync or the end of a force changes only what the next run can see again, and so does a new
  // leaf outside a rollover (a crashed run's version is adopted: credentials.ts storeNewLeaf): the
  // next step's save or the lease release carries it (a metadata write fewer each; lost in a
  // crash, the next run finds the cluster current, with no write, or ends the force again). The
  // other steps, a rollover's, are saved at once.
  if (!deferredSave(step, before)) await r.save();
  return acted.error;
}

function deferredSave(step: Step, before: LinkState): boolean {
  return step.kind === 'sync' || step.kind === 'complete-force' || (step.kind === 'issue-leaf' && before.phase === 'stable' && before.cas.length === 1);
}

/** Runs plan steps under the held lease until the plan says wait. */
async function runSteps(deps: AppDeps, r: LinkRecord): Promise<RotationOutcome> {
  const spec = await readSpec(deps, r);
  const cache = new PayloadCache();
  const issuer = spec.issuer ? await issuerTarget(deps, spec.issuer) : undefined;
  const log = deps.log.with({ link: r.link });
  const steps: string[] = [];
  let error: string | undefined;
  let last: Step | undefined;
  let unsavedVersions = false;
  for (let i = 0; i < MAX_STEPS; i++) {
    const now = deps.clock();
    const step = planNextStep(await gatherFacts(deps, spec, r.state, cache, issuer), now, deps.settings);
    last = step;
    if (!isAction(step)) break;
    log.info('rotation step', { step: describeStep(step), reason: step.reason });
    if ('warning' in step && step.warning) log.warn('rollover advanced with a warning', { step: describeStep(step), reason: step.warning });
    error = (await act(deps, r, spec, step, now)) ?? error;
    if (step.kind === 'issue-leaf') unsavedVersions = deferredSave(step, r.state) || unsavedVersions;
    steps.push(describeStep(step));
  }
  if (last && isAction(last)) error = `rotation did not settle after ${MAX_STEPS} steps`;
  if (last?.kind === 'blocked') error = last.reason;
  // Saved with the lease release: when the sweep should look again, and what went wrong.
  const renewal = nextRenewal(r.state, spec.certificates.renewBefore, rolloverWaitMs(deps.settings, r.state.partner !== undefined))?.toISOString();
  const syncError = SIDES.map((side) => r.state.sync[side]).find((x) => x.status !== 'synced' && x.status !== 'pending')?.error;
  const lastError = error ?? syncError;
  const { nextRenewal: _n, lastError: _e, ...rest } = r.state;
  r.state = { ...rest, ...(renewal ? { nextRenewal: renewal } : {}), ...(lastError ? { lastError } : {}) };
  // When it carries new versions (deferredSave), a refused save fails the run (a 503, a nack);
  // otherwise the lease release carries it, and a refusal is only logged (withLease).
  if (unsavedVersions) await r.saveAndRelease();
  if (error) log.warn('rotation incomplete', { reason: error });
  return {
    link: r.link,
    outcome: last?.kind === 'blocked' ? 'blocked' : steps.length > 0 ? 'rotated' : 'not-due',
    steps,
    ...(last && (last.kind === 'wait' || last.kind === 'done') ? { next: { at: last.until.toISOString(), reason: last.reason } } : {}),
    ...(error ? { error } : {}),
  };
}

/** A deleted link's tombstone: its places tried again, the record gone once none is left. */
async function finishDeleting(deps: AppDeps, r: LinkRecord): Promise<RotationOutcome> {
  const left = await finishDeletion(deps, r);
  const error = left.length > 0 ? `could not clear ${left.length} place(s) of the deleted link (retried after ${deps.settings.syncRetryMs} ms)` : undefined;
  return { link: r.link, outcome: 'rotated', steps: ['finish-deletion'], ...(error ? { error } : {}) };
}

async function underLease(deps: AppDeps, record: LinkRecord, work: (r: LinkRecord) => Promise<RotationOutcome>): Promise<RotationOutcome> {
  try {
    return await withLease(deps, record, work);
  } catch (err) {
    if (!isMeshlinkError(err, 'conflict')) throw err;
    deps.log.info('link is being rotated by another worker; leaving it', { link: record.link, reason: err.message });
    return { link: record.link, outcome: 'busy', steps: [], reason: err.message };
  }
}

/**
 * Rotates one link if it is due. Re-decides from the stored state, so a repeated or stale request
 * (Pub/Sub redelivery, two sweeps) for a link rotated meanwhile does nothing.
 */
export async function rotateLink(deps: AppDeps, link: string, options: { reason?: string } = {}): Promise<RotationOutcome> {
  const record = await loadLink(deps, link);
  if (!record || (!specStored(record.state) && !record.state.deleted)) return { link, outcome: 'not-found', steps: [] };
  const issuer = record.state.issuer ? await issuerTarget(deps, record.state.issuer) : undefined;
  const reason = dueReason(record.state, link, deps.clock(), deps.settings, issuer);
  if (!reason) return { link, outcome: 'not-due', steps: [], ...(options.reason ? { reason: options.reason } : {}) };
  const outcome = await underLease(deps, record, (r) => (r.state.deleted ? finishDeleting(deps, r) : runSteps(deps, r)));
  return { ...outcome, reason };
}

export interface ForceResult extends RotationOutcome {
  scope: ForceScope;
  requestId?: string;
  /** The request id was seen before: no new rotation was started. */
  duplicate: boolean;
  /** A forced rotation of this scope was already pending and was continued. */
  continued: boolean;
  /** The forced rotation is finished (a CA rollover waits for grace periods and finishes in later sweeps). */
  completed: boolean;
  state: LinkState;
}

/** Forces a rotation now (suspected compromise): recorded in the state, then run as far as it can go. */
export async function forceRotation(deps: AppDeps, link: string, scope: ForceScope, requestId?: string): Promise<ForceResult> {
  const record = await loadLink(deps, link);
  if (!record || !specStored(record.state)) throw new MeshlinkError('not-found', `link ${link} not found`);
  let decision = { duplicate: false, continued: false };
  // The force is recorded in the write that takes the lease.
  const recordTheForce = (state: LinkState) => {
    const recorded = recordForce(state, scope, deps.clock(), requestId);
    decision = { duplicate: recorded.duplicate, continued: recorded.continued };
    return recorded.state;
  };
  const outcome = await withLease(
    deps,
    record,
    async (r) => {
      if (!decision.duplicate) deps.log.info('forced rotation recorded', { link, scope, continued: decision.continued, ...(requestId ? { requestId } : {}) });
      return runSteps(deps, r);
    },
    { record: recordTheForce },
  );
  return {
    ...outcome,
    scope,
    ...(requestId !== undefined ? { requestId } : {}),
    ...decision,
    completed: !record.state.forced?.[scope],
    state: record.state,
  };
}
