// Recording a forced rotation (suspected compromise) in the link state, so that an HTTP retry,
// a second request during a rollover, or a crash mid-way all end in one rotation. Pure.
import type { LinkState, RotationRequest } from '../link/state.js';

export type ForceScope = 'leaf' | 'ca';

/** Request ids kept per link: enough for client retries, small enough for the state annotation. */
export const MAX_REQUESTS = 10;

export interface ForceDecision {
  state: LinkState;
  /** The request id was seen before: nothing new was recorded. */
  duplicate: boolean;
  /** A forced rotation of this scope was already pending: it is continued, not started again. */
  continued: boolean;
}

export function recordForce(state: LinkState, scope: ForceScope, now: Date, requestId?: string): ForceDecision {
  if (requestId !== undefined && (state.requests ?? []).some((r) => r.id === requestId)) return { state, duplicate: true, continued: false };
  const at = now.toISOString();
  const forced = { ...state.forced };
  const continued = !!forced[scope];
  if (!continued) {
    const tag = requestId !== undefined ? { requestId } : {};
    if (scope === 'leaf') {
      const replace: Record<string, string> = {};
      for (const [side, leaf] of Object.entries(state.leaves)) if (leaf) replace[side] = leaf.fingerprint;
      forced.leaf = { at, replace, ...tag };
    } else {
      // A rollover under way is continued (with the shortened grace); otherwise a new CA is due.
      const newest = Math.max(0, ...state.cas.map((ca) => ca.generation));
      forced.ca = { at, generation: state.phase === 'stable' ? newest + 1 : newest, ...tag };
    }
  }
  const requests: RotationRequest[] | undefined = requestId !== undefined ? [...(state.requests ?? []), { id: requestId, scope, at }].slice(-MAX_REQUESTS) : state.requests;
  return { state: { ...state, forced, ...(requests ? { requests } : {}) }, duplicate: false, continued };
}
