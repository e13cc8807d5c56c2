// Is a link due, from its state alone (no payload)? The sweep asks this of every link it lists,
// and a worker asks it before it takes the lease, so a redelivered message for a link that was
// rotated meanwhile does nothing. Pure.
import { sideIdentity, type Side } from '../link/names.js';
import type { LinkSpec } from '../link/spec.js';
import { specStored, type LinkState } from '../link/state.js';
import { factsFromState, NEVER, type IssuerTarget, type RenewAt, type RotationFacts } from './facts.js';
import { isAction, planNextStep, type RotationSettings, type Step } from './plan.js';
import { renewalTime } from './renewal.js';

export function identities(host: string, link: string): Record<Side, string> {
  return { server: sideIdentity(host, link, 'server'), client: sideIdentity(host, link, 'client') };
}

/** Facts from the state with the spec's renewal times (no payload read); `issuer`: the link's issuer as imported now. */
export function linkFacts(spec: Pick<LinkSpec, 'name' | 'host' | 'certificates'>, state: LinkState, issuer?: IssuerTarget): RotationFacts {
  return factsFromState(state, identities(spec.host, spec.name), (nb, na) => renewalTime(nb, na, spec.certificates.renewBefore), issuer);
}

/**
 * The step the state alone calls for. Renewal times need the spec's renewBefore, which the state
 * does not hold: `nextRenewal` (computed with it at every sync) stands for all of them.
 */
export function metadataStep(state: LinkState, link: string, now: Date, settings: RotationSettings, issuer?: IssuerTarget): Step {
  const renewAt: RenewAt = state.nextRenewal ? () => NEVER : (notBefore, notAfter) => renewalTime(notBefore, notAfter);
  return planNextStep(factsFromState(state, identities(state.host, link), renewAt, issuer), now, settings);
}

/**
 * Why the link needs a worker now, or undefined. A pending forced rotation is in the state, so
 * the plan sees it too: the link is due when it has a step to take, not while a grace period runs.
 * `issuer`: the link's issuer as imported now (a replaced bundle makes its links due).
 */
export function dueReason(state: LinkState, link: string, now: Date, settings: RotationSettings, issuer?: IssuerTarget): string | undefined {
  if (state.deleted) {
    // A tombstone (app/delete.ts): its places are tried again like a failed clean-up of stale places.
    const retryAt = Date.parse(state.staleFailedAt ?? state.deleted.at) + settings.syncRetryMs;
    return now.getTime() >= retryAt ? `deleted link: ${state.stale?.length ?? 0} place(s) not cleared yet` : undefined;
  }
  if (!specStored(state)) return undefined; // never completed: POST /links finishes it
  if (state.nextRenewal && now >= new Date(state.nextRenewal)) return `NearingExpiry: renewal due since ${state.nextRenewal}`;
  const step = metadataStep(state, link, now, settings, issuer);
  return isAction(step) ? step.reason : undefined;
}
