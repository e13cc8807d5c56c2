// Filling in a spec's gateway namespaces before validation: a side that names none gets the
// namespace its gateway pods run in on the live cluster (the credential Secret must be there).
import { MeshlinkError, isMeshlinkError, type ErrorDetail } from '../errors.js';
import { DEFAULT_GATEWAY_NAMESPACE, GATEWAY_DEFAULTS, isClusterRef, isGatewaySelector, isLinkName } from '../link/spec.js';
import type { Side } from '../link/names.js';
import { canonicalJson } from '../mesh/revision.js';
import type { AppDeps } from './deps.js';
import { loadLink } from './link-record.js';
import { readSpecDocument } from './stored-spec.js';
import { specStored } from '../link/state.js';

type Raw = Record<string, unknown>;

const SIDES: readonly Side[] = ['client', 'server'];

/** What discovery found for one side; no namespace: nothing to go on (the caller falls back). */
interface Found {
  side: Side;
  cluster: string;
  selector: Record<string, string>;
  namespace?: string;
  /** Pods in several namespaces: the detail to report. */
  several?: ErrorDetail;
}

/**
 * Returns the input with `<side>.gateway.namespace` set on each side that leaves it out (not a
 * side the partner runs):
 * - the one namespace where running pods match the side's gateway selector;
 * - pods in several namespaces: invalid-argument naming `<side>.gateway.namespace` and them;
 * - no such pod, a target that cannot tell (local directory) or a cluster that cannot be reached
 *   (not there yet, not answering): the namespace the existing link has on that side (same
 *   cluster and selector: a gateway restarting does not move a link), else istio-system.
 * A cluster that refuses (permission-denied: no cluster-wide `list pods`) fails the call with
 * its error, naming the field. Input the schema will refuse is left to it.
 */
export async function resolveGatewayNamespaces(deps: AppDeps, input: unknown): Promise<unknown> {
  if (!isRaw(input)) return input;
  const pending = SIDES.filter((side) => wantsNamespace(input[side], side));
  if (pending.length === 0) return input;

  const found = await Promise.all(pending.map((side) => discover(deps, side, input[side] as Raw)));
  const several = found.flatMap((f) => (f.several ? [f.several] : []));
  if (several.length > 0) throw new MeshlinkError('invalid-argument', 'invalid link spec', { details: several });

  const stored = found.some((f) => f.namespace === undefined) ? await storedSpec(deps, input.name) : undefined;
  let output: Raw = input;
  for (const f of found) {
    const side = input[f.side] as Raw;
    const namespace = f.namespace ?? keptNamespace(stored?.[f.side], f) ?? DEFAULT_GATEWAY_NAMESPACE;
    output = { ...output, [f.side]: { ...side, gateway: { ...(isRaw(side.gateway) ? side.gateway : {}), namespace } } };
  }
  return output;
}

function isRaw(value: unknown): value is Raw {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The side's gateway selector as written, or the default one. */
function selectorOf(side: Raw, which: Side): unknown {
  return (isRaw(side.gateway) ? side.gateway.selector : undefined) ?? GATEWAY_DEFAULTS[which].selector;
}

/** A side with a cluster and a gateway selector the schema accepts, and no namespace. */
function wantsNamespace(side: unknown, which: Side): side is Raw {
  // A side the partner runs (`external`) has no gateway of ours: filling one in would add a field
  // the user did not write to the 400 that refuses cluster fields beside `external`.
  if (!isRaw(side) || !isClusterRef(side.cluster) || side.external !== undefined) return false;
  if (side.gateway !== undefined && !(isRaw(side.gateway) && side.gateway.namespace === undefined)) return false;
  return isGatewaySelector(selectorOf(side, which));
}

async function discover(deps: AppDeps, side: Side, raw: Raw): Promise<Found> {
  const found: Found = { side, cluster: raw.cluster as string, selector: selectorOf(raw, side) as Record<string, string> };
  const path = `${side}.gateway.namespace`;
  let target;
  try {
    target = deps.clusters.target(found.cluster);
  } catch (err) {
    // A reference the resolver refuses (say, a kind MESHLINK_CLUSTER_ACCESS excludes) fails again
    // once the spec is parsed, as a 400 naming the field (applyLink); anything else is a bug: let it out.
    if (!isMeshlinkError(err)) throw err;
    deps.log.warn('cannot discover the gateway namespace', { cluster: found.cluster, side, reason: err.message });
    return found;
  }
  let namespaces: string[] | undefined;
  try {
    namespaces = await target.findGatewayNamespaces(found.selector);
  } catch (err) {
    if (isMeshlinkError(err, 'permission-denied')) {
      throw new MeshlinkError(err.code, err.message, {
        cause: err,
        details: [{ path, message: `is not given and cannot be discovered on cluster ${found.cluster}: set it, or let meshlink list pods at cluster scope` }],
      });
    }
    if (!isMeshlinkError(err)) throw err;
    // A cluster not there yet (a link made before its cluster) or not answering: fall back like a
    // target that cannot tell; syncing the side reports the same failure in the link's status.
    deps.log.warn('cannot discover the gateway namespace', { cluster: found.cluster, side, reason: err.message });
    return found;
  }
  const labels = Object.entries(found.selector).map(([k, v]) => `${k}=${v}`).join(',');
  if (namespaces && namespaces.length > 1) {
    return { ...found, several: { path, message: `is required: gateway pods (${labels}) run in several namespaces of cluster ${found.cluster}: ${namespaces.join(', ')}` } };
  }
  const namespace = namespaces?.[0];
  if (namespace === undefined) return found;
  deps.log.info('gateway namespace discovered', { cluster: found.cluster, side, namespace, selector: labels });
  return { ...found, namespace };
}

/** The namespace an existing link has on a side, if that side still names the same gateway. */
function keptNamespace(stored: unknown, found: Found): string | undefined {
  if (!isRaw(stored) || stored.cluster !== found.cluster || !isRaw(stored.gateway)) return undefined;
  const { namespace, selector } = stored.gateway;
  if (typeof namespace !== 'string' || canonicalJson(selector) !== canonicalJson(found.selector)) return undefined;
  return namespace;
}

/** The spec document the link was last applied with, or undefined (no such link yet). */
async function storedSpec(deps: AppDeps, name: unknown): Promise<Raw | undefined> {
  if (!isLinkName(name)) return undefined;
  const record = await loadLink(deps, name);
  if (!record || !specStored(record.state)) return undefined;
  const doc = await readSpecDocument(deps, record);
  return isRaw(doc) ? doc : undefined;
}
