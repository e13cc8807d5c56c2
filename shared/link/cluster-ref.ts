// Cluster references: parsing a ref into what it names, and building Connect gateway URLs. Pure.
import { MeshlinkError } from '../errors.js';

/** Connect gateway collection: `gkeMemberships` only for GKE clusters, `memberships` otherwise. */
export type FleetCollection = 'memberships' | 'gkeMemberships';

export type ClusterRef =
  | { kind: 'gke'; project: string; location: string; cluster: string }
  | { kind: 'fleet'; project: string; location: string; membership: string; collection?: FleetCollection }
  | { kind: 'kubeconfig'; context: string }
  | { kind: 'local'; name: string };

const SEGMENT = '([A-Za-z0-9][A-Za-z0-9._-]*)';
// Audit logs name zonal clusters with `zones/` even when the request used `locations/`.
const GKE = new RegExp(`^projects/${SEGMENT}/(?:locations|zones)/${SEGMENT}/clusters/${SEGMENT}$`);
const FLEET = new RegExp(`^projects/${SEGMENT}/locations/${SEGMENT}/(memberships|gkeMemberships)/${SEGMENT}$`);
const KUBECONFIG_PREFIX = 'kubeconfig:';
/** A local name, and a kubeconfig context (EKS contexts are ARNs: `:` and `/`). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/;
/** References end up in store annotations and directory names: bounded. */
export const MAX_CLUSTER_REF_LENGTH = 512;

/** What a reference names, or why it names nothing (a message for a field: "must be ..."). */
function interpret(ref: string): ClusterRef | { problem: string } {
  if (ref === '') return { problem: 'must name a cluster' };
  if (ref.length > MAX_CLUSTER_REF_LENGTH) return { problem: `must be at most ${MAX_CLUSTER_REF_LENGTH} characters` };
  const gke = GKE.exec(ref);
  if (gke) return { kind: 'gke', project: gke[1]!, location: gke[2]!, cluster: gke[3]! };
  const fleet = FLEET.exec(ref);
  if (fleet) {
    const base = { kind: 'fleet' as const, project: fleet[1]!, location: fleet[2]!, membership: fleet[4]! };
    return fleet[3] === 'gkeMemberships' ? { ...base, collection: 'gkeMemberships' } : base;
  }
  if (ref.startsWith(KUBECONFIG_PREFIX)) {
    const context = ref.slice(KUBECONFIG_PREFIX.length);
    if (!NAME.test(context)) return { problem: 'must be kubeconfig:<context>, the context a name of letters, digits and . _ : / @ -' };
    return { kind: 'kubeconfig', context };
  }
  // A typo in a cloud reference must not silently become a local directory.
  if (ref.startsWith('projects/')) return { problem: 'must be projects/P/locations/L/clusters/C (or zones/) or projects/P/locations/L/memberships/M, each part a non-empty name' };
  if (!NAME.test(ref)) return { problem: 'must be a cluster reference: a name of letters, digits and . _ : / @ - (starting with a letter or digit), projects/P/locations/L/clusters/C, projects/P/locations/L/memberships/M or kubeconfig:<context>' };
  return { kind: 'local', name: ref };
}

/** Why `ref` is not a cluster reference (a message for the spec field), or undefined when it is one. */
export function clusterRefProblem(ref: string): string | undefined {
  const read = interpret(ref);
  return 'problem' in read ? read.problem : undefined;
}

/**
 * What a cluster reference names (the one grammar: the link spec validates with it too):
 * - `projects/P/locations/L/clusters/C` (or `zones/`): a GKE cluster, reached at its endpoint;
 * - `projects/P/locations/L/memberships/M`: a fleet membership, reached through the Connect
 *   gateway with the configured default collection; `.../gkeMemberships/M` pins `gkeMemberships`
 *   (the gateway wants it for memberships backed by a GKE cluster);
 * - `kubeconfig:<context>`: a context of the local kubeconfig;
 * - any other name: a local name (the embedded local-directory target).
 */
export function parseClusterRef(ref: string): ClusterRef {
  const read = interpret(ref);
  if ('problem' in read) throw new MeshlinkError('invalid-argument', `cluster reference "${ref}" ${read.problem}`);
  return read;
}

/** A directory name for a cluster reference: reversible, no `/`, never `.` or `..`. */
export function safeClusterName(ref: string): string {
  const escaped = ref.replace(/[^A-Za-z0-9._-]/g, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
  return escaped === '.' || escaped === '..' ? escaped.replace(/\./g, '%2E') : escaped;
}

export interface ConnectGatewayOptions {
  /** Collection when the ref does not pin one; default `memberships`. */
  collection?: FleetCollection;
  /** API version of the gateway path; default `v1`. */
  version?: 'v1' | 'v1beta1';
  /** Project id -> project number, for refs written with the id. */
  projectNumbers?: Record<string, string>;
  /**
   * Base URL replacing `https://[LOCATION-]connectgateway.googleapis.com` (Private Service
   * Connect, tests): https only, optionally with a path; the `/v1/projects/...` path follows it.
   */
  endpoint?: string;
  /** PEM CA certificate(s) to trust for the gateway instead of the system's (tests). */
  caPem?: string;
}

/**
 * A Connect gateway base URL normalised (no trailing `/`), or undefined when it is not an https
 * URL without credentials, query or fragment.
 */
export function connectGatewayEndpoint(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' || url.username || url.password || url.search || url.hash || text.includes('?') || text.includes('#')) return undefined;
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * The Connect gateway URL used as the kube API server of a fleet membership:
 * `https://[LOCATION-]connectgateway.googleapis.com/v1/projects/NUMBER/locations/L/COLLECTION/M`,
 * or under the configured endpoint.
 * The gateway wants the project NUMBER (gcloud resolves it): a ref written with the project id
 * needs an entry in `projectNumbers`; resolving it through Resource Manager would cost one more
 * dependency and one more permission for a value that never changes.
 */
export function connectGatewayUrl(ref: Extract<ClusterRef, { kind: 'fleet' }>, options: ConnectGatewayOptions = {}): string {
  const number = /^\d+$/.test(ref.project) ? ref.project : options.projectNumbers?.[ref.project];
  if (number === undefined) {
    throw new MeshlinkError(
      'invalid-argument',
      `the Connect gateway needs the project number of "${ref.project}" (membership ${ref.membership}): ` +
        'write the reference as projects/<number>/... or map the project id to its number in the configuration',
    );
  }
  const collection = ref.collection ?? options.collection ?? 'memberships';
  const version = options.version ?? 'v1';
  return `${gatewayBase(ref, options.endpoint)}/${version}/projects/${number}/locations/${ref.location}/${collection}/${ref.membership}`;
}

function gatewayBase(ref: Extract<ClusterRef, { kind: 'fleet' }>, endpoint: string | undefined): string {
  if (endpoint === undefined) {
    return ref.location === 'global' ? 'https://connectgateway.googleapis.com' : `https://${ref.location}-connectgateway.googleapis.com`;
  }
  const base = connectGatewayEndpoint(endpoint);
  if (base === undefined) throw new MeshlinkError('invalid-argument', `Connect gateway endpoint "${endpoint}" is not an https URL (https://host[:port][/path])`);
  return base;
}
