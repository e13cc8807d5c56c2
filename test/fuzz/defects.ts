// The defects the fuzz suite knows of: those of issue 21 (1-7) and the new ones it found (N1-...).
// All are fixed: their properties are plain tests now, kept as regression tests. A new defect
// goes into OPEN_DEFECTS with its classifier until its fix lands. Each has a classifier. The generic properties skip the inputs of an
// open defect (fc.pre), so they stay green; each open defect has its own property, marked
// `it.fails`, that asserts what should happen. Once a fix is merged, remove its number from
// OPEN_DEFECTS: its property then must pass, and the generic properties cover its inputs again.
//
//  1  a lifetime past year 9999 (`caTtl: 9999999d`) is accepted on update and breaks rotation;
//     on create it is a 400 without field that leaves the link record, its CA and port claim
//  2  a cluster reference that names no cluster (`projects/x`) is accepted; DELETE is then a 400
//  3  a second link with another's host on the same client cluster is accepted
//  4  object names collide between links (`<x>-ingress` vs `istio-egressgateway-<x>`)
//  5  the CloudEvent functions answer 500 to a GET, an empty body or text/plain
//  6  a chunked or gzip body over 64 KiB is read whole: the event functions acknowledge it (204)
//  7  unknown YAML tags are accepted; a rotate body with a Content-Type the framework cannot
//     parse is "scope is required" (not 415); a structured event that is a JSON array is "ignored"
//  N1 (new) a well-formed GKE / fleet / kubeconfig reference the deployment may not reach
//     (MESHLINK_CLUSTER_ACCESS) is accepted (201, sides failed); DELETE is then a 403 for ever
//  N2 (new) POST /links with a spec and no Content-Type is a 400 "request body is empty"
import fc from 'fast-check';
import { it } from 'vitest';
import { parseClusterRef } from '../../shared/link/cluster-ref.js';
import { parseDuration } from '../../shared/link/duration.js';
import { isClusterRef, isLinkName } from '../../shared/link/spec.js';
import { objectNames } from '../../shared/link/names.js';
import { fcOptions, fuzzTimeout, inOwnWorld, type World } from './harness.js';

export type Defect = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 'N1' | 'N2';

/**
 * FUZZ_DEFECTS_FIXED=1,N2 treats those as fixed for one run (after a merge, before editing this
 * set; also how the minimal counterexamples of the report were taken, with FUZZ_SHRINK=1).
 */
const fixedNow = new Set((process.env.FUZZ_DEFECTS_FIXED ?? '').split(',').map((d) => d.trim()).filter(Boolean));
export const OPEN_DEFECTS = new Set<Defect>(([] as Defect[]).filter((d) => !fixedNow.has(String(d))));

/** A test of what a defect should do: `it.fails` while the defect is open, `it` once fixed. */
export function defectIt(defect: Defect, title: string, fn: () => Promise<void>, timeout?: number): void {
  (OPEN_DEFECTS.has(defect) ? it.fails : it)(`[defect ${defect}] ${title}`, fn, timeout);
}

/**
 * Runs for a defect's property. An open one fails at once: a few runs without shrinking show it
 * in `npm test` (FUZZ_SHRINK=1 shrinks to a minimal counterexample); a fixed one gets the full budget.
 */
export function defectRuns(defect: Defect): typeof fcOptions {
  return OPEN_DEFECTS.has(defect) ? { ...fcOptions, numRuns: Math.min(fcOptions.numRuns, 5), endOnFailure: !process.env.FUZZ_SHRINK } : fcOptions;
}

/**
 * A defect's property, run in a world of its own (an open defect may leave a link behind). The
 * examples run first: the minimal counterexample found, so an open defect fails every time.
 */
export function defectProperty<T extends unknown[]>(defect: Defect, title: string, property: (world: World) => fc.IAsyncProperty<T>, examples: T[]): void {
  defectIt(defect, title, inOwnWorld((world) => fc.assert(property(world), { ...defectRuns(defect), examples })), fuzzTimeout);
}

/** True when the input belongs to a defect that is still open (generic properties skip it). */
export function isOpen(defect: Defect, applies: boolean): boolean {
  return applies && OPEN_DEFECTS.has(defect);
}

/** X.509 validity ends at 9999-12-31: a lifetime reaching past it cannot be minted. */
const LAST_X509_TIME = Date.UTC(9999, 11, 31, 23, 59, 59);

/** #1: a certificate lifetime that ends past year 9999 from now (the spec accepts up to 9999999d). */
export function hasUnmintableLifetime(spec: unknown, now = Date.now()): boolean {
  const certs = (spec as { certificates?: Record<string, unknown> } | null)?.certificates;
  if (!certs || typeof certs !== 'object') return false;
  return ['leafTtl', 'caTtl'].some((k) => {
    const ms = typeof certs[k] === 'string' ? parseDuration(certs[k] as string) : undefined;
    return ms !== undefined && now + ms > LAST_X509_TIME;
  });
}

function clusters(spec: unknown): unknown[] {
  const s = spec as { client?: { cluster?: unknown }; server?: { cluster?: unknown } } | null;
  return [s?.client?.cluster, s?.server?.cluster];
}

function refKind(ref: unknown): 'malformed' | 'remote' | 'local' | 'refused' {
  // A cloud or kubeconfig reference that names no cluster, whether the schema refuses it or not.
  if (typeof ref === 'string' && /^(projects\/|kubeconfig:)/.test(ref) && !isClusterRef(ref)) return 'malformed';
  if (!isClusterRef(ref)) return 'refused';
  try {
    return parseClusterRef(ref).kind === 'local' ? 'local' : 'remote';
  } catch {
    return 'malformed';
  }
}

/** #2: a cloud or kubeconfig cluster reference that names no cluster (`projects/x`, `kubeconfig:`). */
export function hasMalformedClusterRef(spec: unknown): boolean {
  return clusters(spec).some((c) => refKind(c) === 'malformed');
}

/**
 * N1: a well-formed GKE, fleet or kubeconfig reference in a deployment that may not reach that
 * kind (MESHLINK_CLUSTER_ACCESS): the link is created (its sides fail to sync) and then cannot
 * be deleted (403). The fuzz world enables no remote kind, so every remote reference is one.
 */
export function hasUnreachableClusterKind(spec: unknown): boolean {
  return clusters(spec).some((c) => refKind(c) === 'remote');
}

interface SpecLike {
  name?: unknown;
  host?: unknown;
  client?: { cluster?: unknown };
  server?: { cluster?: unknown };
}

/** #3: the host of another link whose client side is on the same cluster. */
export function sharesHostOnClientCluster(spec: unknown, others: SpecLike[]): boolean {
  const s = spec as SpecLike | null;
  return others.some((o) => s?.name !== o.name && s?.host === o.host && s?.client?.cluster === o.client?.cluster);
}

/** #4: a link whose object names (any kind, any side) equal another link's. */
export function hasCollidingNames(spec: unknown, others: SpecLike[]): boolean {
  const name = (spec as SpecLike | null)?.name;
  if (!isLinkName(name)) return false;
  const mine = new Set(Object.values(objectNames(name)));
  return others.some((o) => typeof o.name === 'string' && o.name !== name && Object.values(objectNames(o.name)).some((n) => mine.has(n)));
}

/** #7 (YAML): a tag outside YAML's core schema anywhere in a YAML text. */
export function hasUnknownYamlTag(text: string): boolean {
  const CORE = new Set(['!!str', '!!int', '!!float', '!!bool', '!!null', '!!map', '!!seq']);
  return [...text.matchAll(/(^|[\s,[{:-])(![^\s,\]}]*)/g)].some((m) => !CORE.has(m[2]!));
}
