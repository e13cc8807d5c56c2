// A hand-written fake behind the ClusterTarget port: clusters held in memory, with write
// counting, wiping (a rebuilt cluster), seeded pods and injected failures. For use-case tests.
import { MeshlinkError } from '../../shared/errors.js';
import { ANNOTATION_REVISION } from '../../shared/link/names.js';
import { isKept, matchesLabels } from '../../shared/clusters/selector.js';
import { assertOwned } from '../../shared/clusters/ownership.js';
import { parseClusterRef } from '../../shared/link/cluster-ref.js';
import type { AppliedObject, ClusterResolver, ClusterTarget, KubeObject, ObjectKind, ObjectRef, ServiceInfo, ServicePort } from '../../shared/clusters/port.js';

export interface SeededPod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  phase: string;
}

/** The API group of an apiVersion: `networking.istio.io` of `networking.istio.io/v1`, `` of `v1`. */
function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

function key(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

export class MemoryCluster implements ClusterTarget {
  readonly objects = new Map<string, KubeObject>();
  readonly services = new Map<string, ServiceInfo>();
  readonly pods: SeededPod[] = [];
  /** False makes findGatewayNamespaces answer undefined, as a target without pods does. */
  knowsPods = true;
  /** Calls of findGatewayNamespaces so far. */
  podLists = 0;
  writes = 0;
  /** When set, every call fails with this error until cleared. */
  failure: MeshlinkError | undefined;

  constructor(readonly cluster: string) {}

  private check(): void {
    if (this.failure) throw this.failure;
  }

  private current(o: KubeObject): boolean {
    const live = this.objects.get(key(o.kind, o.metadata.namespace, o.metadata.name));
    const rev = o.metadata.annotations?.[ANNOTATION_REVISION];
    return !!live && !!rev && live.metadata.annotations?.[ANNOTATION_REVISION] === rev;
  }

  async isCurrent(objects: KubeObject[]): Promise<boolean> {
    this.check();
    return objects.every((o) => this.current(o));
  }

  async checkOwners(objects: KubeObject[]): Promise<void> {
    this.check();
    assertOwned(this.cluster, objects, objects.map((o) => this.objects.get(key(o.kind, o.metadata.namespace, o.metadata.name))));
  }

  async apply(objects: KubeObject[]): Promise<AppliedObject[]> {
    await this.checkOwners(objects);
    return objects.map((o) => {
      const k = key(o.kind, o.metadata.namespace, o.metadata.name);
      const live = this.objects.get(k);
      const base = { kind: o.kind, name: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}) };
      if (this.current(o)) return { ...base, outcome: 'unchanged' as const };
      this.objects.set(k, structuredClone(o));
      this.writes++;
      return { ...base, outcome: live ? ('updated' as const) : ('created' as const) };
    });
  }

  async getService(namespace: string, name: string): Promise<ServiceInfo | undefined> {
    this.check();
    const s = this.services.get(`${namespace}/${name}`);
    return s ? structuredClone(s) : undefined;
  }

  seedService(namespace: string, name: string, ports: ServicePort[], address?: string): void {
    this.services.set(`${namespace}/${name}`, { namespace, name, ports, ...(address ? { address } : {}) });
  }

  async ensureServicePorts(namespace: string, name: string, ports: ServicePort[], own: string[] = []): Promise<ServicePort[]> {
    this.check();
    const s = this.services.get(`${namespace}/${name}`) ?? { namespace, name, ports: [] };
    const missing = ports.filter((p) => !s.ports.some((q) => q.port === p.port));
    if (missing.length > 0) {
      // A missing port of an `own` name replaces the port of that name (moved), as the real targets do.
      const moved = new Set(missing.filter((p) => own.includes(p.name)).map((p) => p.name));
      this.services.set(`${namespace}/${name}`, { ...s, ports: [...s.ports.filter((q) => !moved.has(q.name)), ...missing] });
      this.writes++;
    }
    return missing;
  }

  async removeServicePorts(namespace: string, name: string, portNames: string[]): Promise<string[]> {
    this.check();
    const s = this.services.get(`${namespace}/${name}`);
    if (!s) return [];
    const removed = s.ports.filter((p) => portNames.includes(p.name)).map((p) => p.name);
    if (removed.length > 0) {
      this.services.set(`${namespace}/${name}`, { ...s, ports: s.ports.filter((p) => !portNames.includes(p.name)) });
      this.writes++;
    }
    return removed;
  }

  async deleteByLabel(labels: Record<string, string>, kinds: ObjectKind[], namespace?: string, keep?: readonly ObjectRef[]): Promise<number> {
    this.check();
    let n = 0;
    for (const [k, o] of this.objects) {
      if (namespace !== undefined && o.metadata.namespace !== namespace) continue;
      // By group and kind, as Kubernetes: one object answers to every version of its kind.
      const kindMatch = kinds.some((kd) => kd.kind === o.kind && groupOf(kd.apiVersion) === groupOf(o.apiVersion));
      const labelMatch = Object.entries(labels).every(([lk, lv]) => o.metadata.labels?.[lk] === lv);
      if (kindMatch && labelMatch && !isKept(keep, o.kind, o.metadata.name)) {
        this.objects.delete(k);
        n++;
      }
    }
    if (n > 0) this.writes++;
    return n;
  }

  seedPod(namespace: string, name: string, labels: Record<string, string>, phase = 'Running'): void {
    this.pods.push({ namespace, name, labels, phase });
  }

  async findGatewayNamespaces(selector: Record<string, string>): Promise<string[] | undefined> {
    this.check();
    this.podLists++;
    if (!this.knowsPods) return undefined;
    const running = this.pods.filter((p) => p.phase === 'Running' && matchesLabels(p.labels, selector));
    return [...new Set(running.map((p) => p.namespace))].sort();
  }

  get(kind: string, namespace: string, name: string): KubeObject | undefined {
    return this.objects.get(key(kind, namespace, name));
  }

  /** A rebuilt cluster: nothing of meshlink's is left. */
  wipe(): void {
    this.objects.clear();
    for (const s of this.services.values()) s.ports = s.ports.filter((p) => !p.name.startsWith('tls-'));
  }
}

export class MemoryClusters implements ClusterResolver {
  readonly clusters = new Map<string, MemoryCluster>();
  /** Throws invalid-argument for a malformed reference, as the real resolver does. */
  target(cluster: string): MemoryCluster {
    let c = this.clusters.get(cluster);
    if (!c) {
      parseClusterRef(cluster);
      c = new MemoryCluster(cluster);
      this.clusters.set(cluster, c);
    }
    return c;
  }
  get totalWrites(): number {
    return [...this.clusters.values()].reduce((n, c) => n + c.writes, 0);
  }
}

export function unavailable(cluster: string): MeshlinkError {
  return new MeshlinkError('unavailable', `cluster ${cluster} is not answering`);
}
