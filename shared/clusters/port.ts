// The ClusterTarget port: what the use-cases need from one Kubernetes cluster, in plain data.
// Adapters: the Kubernetes API (GKE, fleet Connect gateway, kubeconfig) and a local directory
// of YAML files (the embedded default). Failures are MeshlinkError codes: permission-denied,
// not-found, conflict, unavailable (retryable), invalid-argument (the API rejected an object).

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface ServicePort {
  name: string;
  port: number;
  targetPort?: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

export interface ServiceInfo {
  namespace: string;
  name: string;
  ports: ServicePort[];
  /** `status.loadBalancer.ingress[0]` ip or hostname, when the Service has one. */
  address?: string;
}

export type ApplyOutcome = 'created' | 'updated' | 'unchanged';

export interface AppliedObject {
  kind: string;
  namespace?: string;
  name: string;
  outcome: ApplyOutcome;
}

export interface ClusterTarget {
  /** The cluster reference this target was made for. */
  readonly cluster: string;
  /**
   * Server-side apply with field manager `meshlink`. An object whose live copy already carries
   * the same `meshlink.io/revision` annotation is left alone (no write). When the live copy of any
   * object is labelled (`meshlink.io/link`) for another link than the object's own label, nothing
   * is written: a `conflict` naming those objects (ownership.ts).
   */
  apply(objects: KubeObject[]): Promise<AppliedObject[]>;
  /** Read-only: the `conflict` apply would throw for objects labelled for another link, if any. */
  checkOwners(objects: KubeObject[]): Promise<void>;
  /**
   * Read-only: whether every object's live copy carries its revision, i.e. `apply` would leave
   * them all unchanged. Lets a caller compare first and write only under the link's lease.
   */
  isCurrent(objects: KubeObject[]): Promise<boolean>;
  /** Reads a Service; undefined if it does not exist. */
  getService(namespace: string, name: string): Promise<ServiceInfo | undefined>;
  /**
   * Adds the ports (matched by port number) a Service lacks, keeping every other port as it is.
   * A port named in `own` (names only this caller uses) found with another number is replaced in
   * the same write: that port moved, and a Service cannot hold two ports of one name.
   * Returns the ports it added or moved (none when all were there).
   */
  ensureServicePorts(namespace: string, name: string, ports: ServicePort[], own?: string[]): Promise<ServicePort[]>;
  /** Removes ports by name that meshlink added (others untouched); returns the names removed. */
  removeServicePorts(namespace: string, name: string, portNames: string[]): Promise<string[]>;
  /**
   * Deletes every object of the given kinds that carries all the labels, in `namespace` only when
   * given (else wherever the target looks), but for those named in `keep`; returns how many.
   */
  deleteByLabel(labels: Record<string, string>, kinds: ObjectKind[], namespace?: string, keep?: readonly ObjectRef[]): Promise<number>;
  /**
   * Namespaces (sorted, each once) of the running pods that carry all the labels of `selector`,
   * across all namespaces: where a gateway's credential Secret must live. Undefined when this
   * target cannot tell (a local directory has no pods).
   */
  findGatewayNamespaces(selector: Record<string, string>): Promise<string[] | undefined>;
}

/** One object by kind and name (within a namespace given beside it). */
export interface ObjectRef {
  kind: string;
  name: string;
}

/** A kind meshlink manages, with the API group/version to address it. */
export interface ObjectKind {
  apiVersion: string;
  kind: string;
  /** Lowercase plural resource name, e.g. `destinationrules`. */
  plural: string;
  namespaced: true;
}

/** Picks (and caches) the adapter for a cluster reference. */
export interface ClusterResolver {
  target(cluster: string): ClusterTarget;
}
