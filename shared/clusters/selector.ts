// Equality label selectors for deleteByLabel (built for the API, matched for local files) and its exceptions.
import { MeshlinkError } from '../errors.js';
import type { ObjectRef } from './port.js';

/** `k1=v1,k2=v2`; refuses an empty selector, which would match (and delete) everything. */
export function labelSelector(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) throw new MeshlinkError('invalid-argument', 'deleteByLabel needs at least one label');
  return entries.map(([k, v]) => `${k}=${v}`).join(',');
}

/** True when `have` carries every label of `want` (want must not be empty). */
export function matchesLabels(have: Record<string, string> | undefined, want: Record<string, string>): boolean {
  labelSelector(want);
  return Object.entries(want).every(([k, v]) => have?.[k] === v);
}

/** Whether `keep` (deleteByLabel's exceptions) names an object of this kind and name. */
export function isKept(keep: readonly ObjectRef[] | undefined, kind: string | undefined, name: string | undefined): boolean {
  return (keep ?? []).some((k) => k.kind === kind && k.name === name);
}
