// A ClusterResolver decorator that counts what the use-cases ask of clusters: calls per method
// and writes (objects created or changed, ports added or removed, deletions).
import type { AppliedObject, ClusterResolver, ClusterTarget, KubeObject, ObjectKind, ObjectRef, ServiceInfo, ServicePort } from '../../shared/clusters/port.js';

export type ClusterMethod = 'apply' | 'isCurrent' | 'checkOwners' | 'getService' | 'findGatewayNamespaces' | 'ensureServicePorts' | 'removeServicePorts' | 'deleteByLabel';

export interface ClusterCounts {
  calls: Record<ClusterMethod, number>;
  /** Calls of any kind. */
  totalCalls: number;
  /** Objects created or updated by apply, ports added or removed, delete calls that deleted something. */
  writes: number;
}

function zero(): Record<ClusterMethod, number> {
  return { apply: 0, isCurrent: 0, checkOwners: 0, getService: 0, findGatewayNamespaces: 0, ensureServicePorts: 0, removeServicePorts: 0, deleteByLabel: 0 };
}

export class CountingClusters implements ClusterResolver {
  readonly calls = zero();
  writes = 0;
  private readonly targets = new Map<string, ClusterTarget>();

  constructor(readonly inner: ClusterResolver) {}

  counts(): ClusterCounts {
    return { calls: { ...this.calls }, totalCalls: Object.values(this.calls).reduce((a, b) => a + b, 0), writes: this.writes };
  }

  reset(): void {
    Object.assign(this.calls, zero());
    this.writes = 0;
  }

  target(cluster: string): ClusterTarget {
    let target = this.targets.get(cluster);
    if (!target) {
      target = this.wrap(this.inner.target(cluster));
      this.targets.set(cluster, target);
    }
    return target;
  }

  private wrap(inner: ClusterTarget): ClusterTarget {
    const counter = this;
    return {
      cluster: inner.cluster,
      async isCurrent(objects: KubeObject[]): Promise<boolean> {
        counter.calls.isCurrent++;
        return inner.isCurrent(objects);
      },
      async checkOwners(objects: KubeObject[]): Promise<void> {
        counter.calls.checkOwners++;
        return inner.checkOwners(objects);
      },
      async apply(objects: KubeObject[]): Promise<AppliedObject[]> {
        counter.calls.apply++;
        const applied = await inner.apply(objects);
        counter.writes += applied.filter((a) => a.outcome !== 'unchanged').length;
        return applied;
      },
      async getService(namespace: string, name: string): Promise<ServiceInfo | undefined> {
        counter.calls.getService++;
        return inner.getService(namespace, name);
      },
      async findGatewayNamespaces(selector: Record<string, string>): Promise<string[] | undefined> {
        counter.calls.findGatewayNamespaces++;
        return inner.findGatewayNamespaces(selector);
      },
      async ensureServicePorts(namespace: string, name: string, ports: ServicePort[], own?: string[]): Promise<ServicePort[]> {
        counter.calls.ensureServicePorts++;
        const added = await inner.ensureServicePorts(namespace, name, ports, own);
        counter.writes += added.length;
        return added;
      },
      async removeServicePorts(namespace: string, name: string, portNames: string[]): Promise<string[]> {
        counter.calls.removeServicePorts++;
        const removed = await inner.removeServicePorts(namespace, name, portNames);
        counter.writes += removed.length;
        return removed;
      },
      async deleteByLabel(labels: Record<string, string>, kinds: ObjectKind[], namespace?: string, keep?: readonly ObjectRef[]): Promise<number> {
        counter.calls.deleteByLabel++;
        const deleted = await inner.deleteByLabel(labels, kinds, namespace, keep);
        counter.writes += deleted;
        return deleted;
      },
    };
  }
}
