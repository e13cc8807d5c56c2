// Maps cluster references to ClusterTargets (one per reference, cached): the Kubernetes API for
// GKE, fleet and kubeconfig references, a local YAML directory for plain names.
import { join } from 'node:path';
import { parseClusterRef, safeClusterName, type ClusterRef } from '../link/cluster-ref.js';
import type { CredentialOptions } from './credentials.js';
import type { KubernetesTargetOptions } from './kubernetes-target.js';
import { LocalDirectoryTarget } from './local-directory-target.js';
import type { AppliedObject, ClusterResolver, ClusterTarget, KubeObject, ObjectKind, ObjectRef, ServiceInfo, ServicePort } from './port.js';

export type RemoteClusterRef = Exclude<ClusterRef, { kind: 'local' }>;

export interface KubernetesClusterResolverOptions {
  /** Root of local state; local targets live in `<stateDir>/clusters/<safe cluster name>`. */
  stateDir: string;
  /** `local` writes YAML for every reference, cloud ones included (no cluster is called). */
  mode?: 'auto' | 'local';
  credentials?: CredentialOptions;
  kubernetes?: KubernetesTargetOptions;
  /** Seams for tests. */
  makeLocal?: (cluster: string, dir: string) => ClusterTarget;
  makeRemote?: (cluster: string, ref: RemoteClusterRef) => ClusterTarget;
}

/** The directory of a cluster's local YAML target. */
export function localClusterDir(stateDir: string, cluster: string): string {
  return join(stateDir, 'clusters', safeClusterName(cluster));
}

export class KubernetesClusterResolver implements ClusterResolver {
  private readonly targets = new Map<string, ClusterTarget>();

  constructor(private readonly options: KubernetesClusterResolverOptions) {}

  /** Throws invalid-argument for a malformed cloud reference. */
  target(cluster: string): ClusterTarget {
    let target = this.targets.get(cluster);
    if (!target) {
      target = this.make(cluster);
      this.targets.set(cluster, target);
    }
    return target;
  }

  private make(cluster: string): ClusterTarget {
    const ref = parseClusterRef(cluster);
    if (ref.kind === 'local' || this.options.mode === 'local') {
      const dir = localClusterDir(this.options.stateDir, cluster);
      return this.options.makeLocal ? this.options.makeLocal(cluster, dir) : new LocalDirectoryTarget(cluster, dir);
    }
    if (this.options.makeRemote) return this.options.makeRemote(cluster, ref);
    return new LazyKubernetesTarget(cluster, ref, this.options);
  }
}

/**
 * Loads @kubernetes/client-node (and the Google SDKs) on the first call, not at import:
 * a cold start that never talks to a cluster (a local run, a sweep) does not pay for them.
 */
export class LazyKubernetesTarget implements ClusterTarget {
  private inner: Promise<ClusterTarget> | undefined;

  constructor(
    readonly cluster: string,
    private readonly ref: RemoteClusterRef,
    private readonly options: KubernetesClusterResolverOptions,
  ) {}

  private target(): Promise<ClusterTarget> {
    this.inner ??= (async () => {
      const [{ KubernetesTarget }, { kubeConfigSource }] = await Promise.all([import('./kubernetes-target.js'), import('./credentials.js')]);
      return new KubernetesTarget(this.cluster, kubeConfigSource(this.cluster, this.ref, this.options.credentials), this.options.kubernetes);
    })();
    return this.inner;
  }

  async apply(objects: KubeObject[]): Promise<AppliedObject[]> {
    return (await this.target()).apply(objects);
  }
  async isCurrent(objects: KubeObject[]): Promise<boolean> {
    return (await this.target()).isCurrent(objects);
  }
  async checkOwners(objects: KubeObject[]): Promise<void> {
    return (await this.target()).checkOwners(objects);
  }
  async getService(namespace: string, name: string): Promise<ServiceInfo | undefined> {
    return (await this.target()).getService(namespace, name);
  }
  async ensureServicePorts(namespace: string, name: string, ports: ServicePort[], own?: string[]): Promise<ServicePort[]> {
    return (await this.target()).ensureServicePorts(namespace, name, ports, own);
  }
  async removeServicePorts(namespace: string, name: string, portNames: string[]): Promise<string[]> {
    return (await this.target()).removeServicePorts(namespace, name, portNames);
  }
  async deleteByLabel(labels: Record<string, string>, kinds: ObjectKind[], namespace?: string, keep?: readonly ObjectRef[]): Promise<number> {
    return (await this.target()).deleteByLabel(labels, kinds, namespace, keep);
  }
  async findGatewayNamespaces(selector: Record<string, string>): Promise<string[] | undefined> {
    return (await this.target()).findGatewayNamespaces(selector);
  }
}
