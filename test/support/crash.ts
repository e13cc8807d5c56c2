// Crash injection behind both ports: the N-th write (store: createSecret, addVersion,
// updateAnnotations, disable, destroy, delete; cluster: an apply that changes something, a
// Service port added or removed, a delete) is performed, then a simulated crash is thrown, and
// every later call fails too until `restart()` (the process is gone); claims kept outside the
// store (CrashingClaims) count their creates and deletes as writes. A hook runs after every
// write, so a test can check an invariant at every intermediate state.
import type { AppliedObject, ClusterResolver, ClusterTarget, KubeObject, ObjectKind, ObjectRef, ServicePort } from '../../shared/clusters/port.js';
import type { AccessedVersion, ListQuery, SecretMetadata, SecretPage, SecretStore, SecretVersionInfo } from '../../shared/store/port.js';
import type { Claim, ClaimStore } from '../../shared/store/claims/port.js';

export class SimulatedCrash extends Error {
  constructor(readonly write: number) {
    super(`simulated crash after write ${write}`);
  }
}

export class CrashPlan {
  /** Writes performed since the plan was made (or reset). */
  writes = 0;
  /** Crash after this write (1-based); undefined = never. */
  crashAt: number | undefined;
  private dead = false;
  /** Crashes thrown since the plan was armed. */
  crashes = 0;
  readonly log: string[] = [];

  constructor(private readonly afterWrite: (label: string) => void = () => {}) {}

  arm(n: number | undefined): void {
    this.writes = 0;
    this.crashAt = n;
    this.dead = false;
    this.crashes = 0;
    this.log.length = 0;
  }

  restart(): void {
    this.dead = false;
    this.crashAt = undefined;
  }

  get crashed(): boolean {
    return this.dead;
  }

  /** Before any call: a crashed process makes none. */
  alive(): void {
    if (this.dead) throw new SimulatedCrash(this.writes);
  }

  /** After a performed write. */
  wrote(label: string): void {
    this.writes++;
    this.log.push(label);
    this.afterWrite(label);
    if (this.crashAt !== undefined && this.writes === this.crashAt) {
      this.dead = true;
      this.crashes++;
      throw new SimulatedCrash(this.writes);
    }
  }
}

export class CrashingStore implements SecretStore {
  constructor(
    private readonly inner: SecretStore,
    private readonly plan: CrashPlan,
  ) {}

  private async write<T>(label: string, op: () => Promise<T>): Promise<T> {
    this.plan.alive();
    const result = await op();
    this.plan.wrote(label);
    return result;
  }

  private async read<T>(op: () => Promise<T>): Promise<T> {
    this.plan.alive();
    return op();
  }

  createSecret(id: string, meta: { labels: Record<string, string>; annotations: Record<string, string> }): Promise<SecretMetadata> {
    return this.write(`store.createSecret ${id}`, () => this.inner.createSecret(id, meta));
  }
  getSecret(id: string): Promise<SecretMetadata> {
    return this.read(() => this.inner.getSecret(id));
  }
  listSecrets(query: ListQuery): Promise<SecretPage> {
    return this.read(() => this.inner.listSecrets(query));
  }
  updateAnnotations(id: string, annotations: Record<string, string>, etag: string): Promise<SecretMetadata> {
    return this.write(`store.updateAnnotations ${id}`, () => this.inner.updateAnnotations(id, annotations, etag));
  }
  deleteSecret(id: string, etag?: string): Promise<void> {
    return this.write(`store.deleteSecret ${id}`, () => this.inner.deleteSecret(id, etag));
  }
  addVersion(id: string, payload: Uint8Array): Promise<string> {
    return this.write(`store.addVersion ${id}`, () => this.inner.addVersion(id, payload));
  }
  accessVersion(id: string, version?: string): Promise<AccessedVersion> {
    return this.read(() => this.inner.accessVersion(id, version));
  }
  listVersions(id: string): Promise<SecretVersionInfo[]> {
    return this.read(() => this.inner.listVersions(id));
  }
  disableVersion(id: string, version: string): Promise<void> {
    return this.write(`store.disableVersion ${id}@${version}`, () => this.inner.disableVersion(id, version));
  }
  destroyVersion(id: string, version: string): Promise<void> {
    return this.write(`store.destroyVersion ${id}@${version}`, () => this.inner.destroyVersion(id, version));
  }
}

class CrashingTarget implements ClusterTarget {
  constructor(
    private readonly inner: ClusterTarget,
    private readonly plan: CrashPlan,
  ) {}

  get cluster(): string {
    return this.inner.cluster;
  }

  async isCurrent(objects: KubeObject[]): Promise<boolean> {
    this.plan.alive();
    return this.inner.isCurrent(objects);
  }
  async checkOwners(objects: KubeObject[]): Promise<void> {
    this.plan.alive();
    return this.inner.checkOwners(objects);
  }
  async apply(objects: KubeObject[]): Promise<AppliedObject[]> {
    this.plan.alive();
    const applied = await this.inner.apply(objects);
    const changed = applied.filter((a) => a.outcome !== 'unchanged');
    if (changed.length > 0) this.plan.wrote(`cluster.apply ${this.cluster} ${changed.map((a) => `${a.kind}/${a.name}`).join(',')}`);
    return applied;
  }
  async getService(namespace: string, name: string) {
    this.plan.alive();
    return this.inner.getService(namespace, name);
  }
  async findGatewayNamespaces(selector: Record<string, string>): Promise<string[] | undefined> {
    this.plan.alive();
    return this.inner.findGatewayNamespaces(selector);
  }
  async ensureServicePorts(namespace: string, name: string, ports: ServicePort[], own?: string[]): Promise<ServicePort[]> {
    this.plan.alive();
    const added = await this.inner.ensureServicePorts(namespace, name, ports, own);
    if (added.length > 0) this.plan.wrote(`cluster.ensureServicePorts ${this.cluster}`);
    return added;
  }
  async removeServicePorts(namespace: string, name: string, portNames: string[]): Promise<string[]> {
    this.plan.alive();
    const removed = await this.inner.removeServicePorts(namespace, name, portNames);
    if (removed.length > 0) this.plan.wrote(`cluster.removeServicePorts ${this.cluster}`);
    return removed;
  }
  async deleteByLabel(labels: Record<string, string>, kinds: ObjectKind[], namespace?: string, keep?: readonly ObjectRef[]): Promise<number> {
    this.plan.alive();
    const n = await this.inner.deleteByLabel(labels, kinds, namespace, keep);
    if (n > 0) this.plan.wrote(`cluster.deleteByLabel ${this.cluster}`);
    return n;
  }
}

export class CrashingClusters implements ClusterResolver {
  constructor(
    private readonly inner: ClusterResolver,
    private readonly plan: CrashPlan,
  ) {}
  target(cluster: string): ClusterTarget {
    return new CrashingTarget(this.inner.target(cluster), this.plan);
  }
}

/** Claims outside the store (a bucket) behind the same plan: a claim made or deleted is a write. */
export class CrashingClaims implements ClaimStore {
  constructor(
    private readonly inner: ClaimStore,
    private readonly plan: CrashPlan,
  ) {}

  async create(id: string, meta: { labels: Record<string, string>; annotations: Record<string, string> }): Promise<void> {
    this.plan.alive();
    await this.inner.create(id, meta);
    this.plan.wrote(`claims.create ${id}`);
  }
  async read(id: string): Promise<Claim | undefined> {
    this.plan.alive();
    return this.inner.read(id);
  }
  async delete(claim: Claim): Promise<void> {
    this.plan.alive();
    await this.inner.delete(claim);
    this.plan.wrote(`claims.delete ${claim.id}`);
  }
  async listOutsideStore(labels: Record<string, string>): Promise<Claim[]> {
    this.plan.alive();
    return this.inner.listOutsideStore(labels);
  }
}
