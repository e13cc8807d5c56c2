// Deterministic names: the same link always yields the same object, Secret and store ids,
// so applies are updates and clean-up finds everything (invariant 6).

export type Side = 'client' | 'server';
/** What a store secret holds for a link; `port-claim` and `host-claim` hold its gateway port and its host on the client cluster (app/port-claim.ts). */
export type StoreRole = 'link' | 'ca' | 'port-claim' | 'host-claim' | Side;

/** Both sides, server first: the client side needs the server's ingress address. */
export const SIDES: readonly Side[] = ['server', 'client'];

/** Kubernetes labels put on every object meshlink applies. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_LINK = 'meshlink.io/link';
export const LABEL_SIDE = 'meshlink.io/side';
/** Annotation: hash of the object's desired content; equal hash = nothing to write. */
export const ANNOTATION_REVISION = 'meshlink.io/revision';
/** Annotation on cluster Secrets: which store secret and version they project. */
export const ANNOTATION_SOURCE = 'meshlink.io/source';
export const MANAGER = 'meshlink';

/** Store labels (Secret Manager labels: lowercase, digits, `_`, `-` only). */
export const STORE_LABEL_MANAGED_BY = 'managed-by';
export const STORE_LABEL_LINK = 'meshlink-link';
export const STORE_LABEL_ROLE = 'meshlink-role';

export function objectLabels(link: string, side: Side): Record<string, string> {
  return { [LABEL_MANAGED_BY]: MANAGER, [LABEL_LINK]: link, [LABEL_SIDE]: side };
}

export function storeLabels(link: string, role: StoreRole): Record<string, string> {
  return { [STORE_LABEL_MANAGED_BY]: MANAGER, [STORE_LABEL_LINK]: link, [STORE_LABEL_ROLE]: role };
}

/**
 * The SDS credential name (`credentialName`) and Kubernetes Secret name of a side.
 * Never ends in `-cacert`: Istio would read that as a separate CA Secret.
 */
export function credentialName(link: string, side: Side): string {
  return `meshlink-${link}-${side}`;
}

/** The store's secret id for one role of a link, under a configurable prefix. */
export function storeSecretId(prefix: string, link: string, role: StoreRole): string {
  return `${prefix}-${link}-${role}`;
}

/**
 * Names of the Istio objects of one link. Two links never yield the same name (invariant 6; the
 * argument is in docs/architecture.md): names collide only within one kind and namespace, and
 * within each kind every name puts the link at the same end with a fixed affix, no affix of one
 * role ending (suffixes) or starting (prefixes) another, so a name parses back to one link and
 * role. Gateway: `-egress`, `-ingress`; VirtualService: `-through-egress`, `-ingress`;
 * DestinationRule: `egressgateway-for-`, `originate-mtls-for-`; ServiceEntry: `-external`.
 */
export function objectNames(link: string) {
  return {
    egressGateway: `${link}-egress`,
    serviceEntry: `${link}-external`,
    egressVirtualService: `${link}-through-egress`,
    egressDestinationRule: `egressgateway-for-${link}`,
    originateDestinationRule: `originate-mtls-for-${link}`,
    ingressGateway: `${link}-ingress`,
    ingressVirtualService: `${link}-ingress`,
    /** Port name added to the ingress gateway Service (a DNS-1123 label: at most 44 characters). */
    ingressServicePort: `tls-${link}`,
    /** Subset of the egress gateway host used by this link: the link name itself. */
    egressSubset: link,
  };
}

/**
 * Names an earlier meshlink gave a link's objects: found labelled for the link, they are removed
 * once the new names are applied (app/sync.ts). `istio-egressgateway-<link>` collided with
 * `<other>-ingress` (`y-ingress` and `istio-egressgateway-y`).
 */
export function formerObjectNames(link: string): { kind: string; name: string; side: Side }[] {
  return [{ kind: 'Gateway', name: `istio-egressgateway-${link}`, side: 'client' }];
}

/** Name of the egress gateway Service port meshlink adds (shared by links on the same port). */
export function egressServicePortName(port: number): string {
  return `tls-meshlink-${port}`;
}

/** URI SAN identities pinned on each side (SPIFFE-like, under the link's host). */
export function sideIdentity(host: string, link: string, side: Side): string {
  return `spiffe://${host}/meshlink/${link}/${side}`;
}
