// ClusterTarget over the Kubernetes API with @kubernetes/client-node (the only file using its API
// clients): server-side apply skipped when the revision is live, guarded JSON patches on Services.
import { ApiException, CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubeConfig, type V1Service } from '@kubernetes/client-node';
import pLimit, { type LimitFunction } from 'p-limit';
import { MeshlinkError } from '../errors.js';
import { ANNOTATION_REVISION, MANAGER } from '../link/names.js';
import type { AppliedObject, ClusterTarget, KubeObject, ObjectKind, ObjectRef, ServiceInfo, ServicePort } from './port.js';
import { isKept, labelSelector as selectorOf } from './selector.js';
import { assertOwned } from './ownership.js';
import { defaultRetryPolicy, parseRetryAfter, withRetry, type RetryPolicy } from './request-policy.js';

/** A KubeConfig, or a function giving the current one (credential providers refresh it). */
export type KubeConfigSource = KubeConfig | (() => Promise<KubeConfig>);

export interface KubernetesTargetOptions {
  /** Requests in flight to this cluster at once; default 4. */
  maxInFlight?: number;
  /** Retries of 429, 5xx and network failures. */
  retry?: Partial<RetryPolicy>;
  /** Read-test-patch rounds on a Service another writer keeps changing; default 5. */
  patchAttempts?: number;
  /**
   * Namespaces deleteByLabel searches when the caller names none; default all namespaces (needs
   * cluster-wide list permission; with namespace-scoped RBAC, list the gateway namespaces here).
   */
  namespaces?: string[];
}

interface Clients {
  objects: KubernetesObjectApi;
  core: CoreV1Api;
}

type JsonPatchOp = { op: 'test' | 'add' | 'remove' | 'replace'; path: string; value?: unknown };

export class KubernetesTarget implements ClusterTarget {
  private readonly limiter: LimitFunction;
  private readonly retry: RetryPolicy;
  private readonly patchAttempts: number;
  private readonly clientCache = new WeakMap<KubeConfig, Clients>();

  constructor(
    readonly cluster: string,
    private readonly source: KubeConfigSource,
    private readonly options: KubernetesTargetOptions = {},
  ) {
    this.limiter = pLimit(options.maxInFlight ?? 4);
    this.retry = { ...defaultRetryPolicy, ...options.retry };
    this.patchAttempts = options.patchAttempts ?? 5;
  }

  async apply(objects: KubeObject[]): Promise<AppliedObject[]> {
    // Every live copy is read and its owner checked before the first write (invariant 6).
    const live = await Promise.all(objects.map((o) => this.readLive(o)));
    assertOwned(this.cluster, objects, live.map((l) => l.live));
    const settled = await Promise.allSettled(objects.map((o, i) => this.applyOne(o, live[i]!)));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<AppliedObject>).value);
  }

  async checkOwners(objects: KubeObject[]): Promise<void> {
    const live = await Promise.all(objects.map((o) => this.readLive(o)));
    assertOwned(this.cluster, objects, live.map((l) => l.live));
  }

  async isCurrent(objects: KubeObject[]): Promise<boolean> {
    const live = await Promise.all(objects.map((o) => this.readLive(o)));
    return live.every((l) => l.current);
  }

  async getService(namespace: string, name: string): Promise<ServiceInfo | undefined> {
    const service = await this.readService(namespace, name);
    if (!service) return undefined;
    const ingress = service.status?.loadBalancer?.ingress?.[0];
    const address = ingress?.ip || ingress?.hostname || undefined;
    return { namespace, name, ports: toPorts(service), ...(address ? { address } : {}) };
  }

  async ensureServicePorts(namespace: string, name: string, ports: ServicePort[], own: string[] = []): Promise<ServicePort[]> {
    return this.patchService(namespace, name, (service) => {
      const live = toPorts(service);
      const have = new Set(live.map((p) => p.port));
      const missing: ServicePort[] = [];
      for (const p of ports) {
        if (have.has(p.port)) continue;
        have.add(p.port); // a port listed twice is added once
        missing.push(p);
      }
      if (missing.length === 0) return { result: [], ops: [] };
      // Append, or replace a moved port of the caller's own in place: never reorder or touch the
      // ports someone else (Helm, the operator) owns. The resourceVersion test guards the indexes.
      const changes: JsonPatchOp[] = [];
      const appended: ServicePort[] = [];
      for (const p of missing) {
        const index = own.includes(p.name) ? live.findIndex((q) => q.name === p.name) : -1;
        if (index >= 0) changes.push({ op: 'replace', path: `/spec/ports/${index}`, value: toV1Port(p) });
        else appended.push(p);
      }
      if (appended.length > 0) {
        changes.push(...(service.spec?.ports
          ? appended.map((p): JsonPatchOp => ({ op: 'add', path: '/spec/ports/-', value: toV1Port(p) }))
          : [{ op: 'add' as const, path: '/spec/ports', value: appended.map(toV1Port) }]));
      }
      return { result: missing, ops: [{ op: 'test', path: '/metadata/resourceVersion', value: service.metadata?.resourceVersion }, ...changes] };
    }, () => {
      throw new MeshlinkError('not-found', `Service ${namespace}/${name} not found in cluster ${this.cluster}`);
    });
  }

  async removeServicePorts(namespace: string, name: string, portNames: string[]): Promise<string[]> {
    const drop = new Set(portNames);
    return this.patchService(namespace, name, (service) => {
      const found = (service.spec?.ports ?? []).map((p, index) => ({ name: p.name ?? '', index })).filter((p) => drop.has(p.name));
      // Highest index first so earlier removals do not shift later ones; each guarded by its name.
      const ops = found
        .sort((a, b) => b.index - a.index)
        .flatMap((p): JsonPatchOp[] => [
          { op: 'test', path: `/spec/ports/${p.index}/name`, value: p.name },
          { op: 'remove', path: `/spec/ports/${p.index}` },
        ]);
      return { result: found.sort((a, b) => a.index - b.index).map((p) => p.name), ops };
    }, () => []);
  }

  async deleteByLabel(labels: Record<string, string>, kinds: ObjectKind[], namespace?: string, keep?: readonly ObjectRef[]): Promise<number> {
    const labelSelector = selectorOf(labels);
    const namespaces: (string | undefined)[] = namespace !== undefined ? [namespace] : (this.options.namespaces ?? [undefined]);
    let deleted = 0;
    for (const kind of kinds) {
      for (const ns of namespaces) {
        const where = ns === undefined ? 'all namespaces' : `namespace ${ns}`;
        const list = await this.call(`list ${kind.plural} in ${where}`, (c) =>
          c.objects.list(kind.apiVersion, kind.kind, ns, undefined, undefined, undefined, undefined, labelSelector),
        );
        const results = await Promise.all(
          list.items.filter((item) => !isKept(keep, kind.kind, item.metadata?.name)).map(async (item) => {
            // List items of built-in kinds carry no apiVersion/kind: address them by the kind asked for.
            const ref = { apiVersion: kind.apiVersion, kind: kind.kind, metadata: { name: item.metadata?.name ?? '', namespace: item.metadata?.namespace } };
            try {
              await this.call(`delete ${kind.kind} ${ref.metadata.namespace}/${ref.metadata.name}`, (c) => c.objects.delete(ref));
              return 1;
            } catch (err) {
              if (err instanceof MeshlinkError && err.code === 'not-found') return 0; // someone else deleted it
              throw err;
            }
          }),
        );
        deleted += results.reduce<number>((a, b) => a + b, 0);
      }
    }
    return deleted;
  }

  async findGatewayNamespaces(selector: Record<string, string>): Promise<string[]> {
    const labelSelector = selectorOf(selector);
    let list;
    try {
      // Running pods only: a finished or pending pod from an old install must not count.
      list = await this.call(`list pods (${labelSelector}) in all namespaces`, (c) =>
        c.core.listPodForAllNamespaces({ labelSelector, fieldSelector: 'status.phase=Running' }),
      );
    } catch (err) {
      // 403 only: a 401 is about the credentials, not about what they may do.
      if (err instanceof MeshlinkError && err.cause instanceof ApiException && err.cause.code === 403) {
        throw new MeshlinkError(
          'permission-denied',
          `${err.message}: to find the gateway namespace meshlink needs \`list pods\` at cluster scope ` +
            '(infra/rbac/meshlink-gateway-discovery.yaml), or the namespace given in the link spec (gateway.namespace)',
          { cause: err },
        );
      }
      throw err;
    }
    const namespaces = list.items.filter((p) => p.status?.phase === 'Running').map((p) => p.metadata?.namespace ?? '');
    return [...new Set(namespaces.filter(Boolean))].sort();
  }

  /** The live copy of an object, and whether it already carries the object's revision. */
  private async readLive(object: KubeObject): Promise<{ live?: KubeObject; current: boolean }> {
    const namespace = object.metadata.namespace;
    const what = `${object.kind} ${namespace ?? ''}/${object.metadata.name}`;
    const header = { apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata.name, ...(namespace ? { namespace } : {}) } };
    let live: KubeObject | undefined;
    try {
      live = (await this.call(`get ${what}`, (c) => c.objects.read(structuredClone(header)))) as unknown as KubeObject;
    } catch (err) {
      if (!(err instanceof MeshlinkError && err.code === 'not-found')) throw err;
      return { current: false };
    }
    const desired = object.metadata.annotations?.[ANNOTATION_REVISION];
    return { live, current: desired !== undefined && live.metadata?.annotations?.[ANNOTATION_REVISION] === desired };
  }

  private async applyOne(object: KubeObject, { live, current }: { live?: KubeObject; current: boolean }): Promise<AppliedObject> {
    const namespace = object.metadata.namespace;
    const what = `${object.kind} ${namespace ?? ''}/${object.metadata.name}`;
    const base = { kind: object.kind, ...(namespace ? { namespace } : {}), name: object.metadata.name };
    if (current) return { ...base, outcome: 'unchanged' };
    // force: meshlink owns the fields it applies, even if someone edited them by hand.
    await this.call(`apply ${what}`, (c) =>
      c.objects.patch(structuredClone(object), undefined, undefined, MANAGER, true, PatchStrategy.ServerSideApply),
    );
    return { ...base, outcome: live ? 'updated' : 'created' };
  }

  private async readService(namespace: string, name: string): Promise<V1Service | undefined> {
    try {
      return await this.call(`get Service ${namespace}/${name}`, (c) => c.core.readNamespacedService({ name, namespace }));
    } catch (err) {
      if (err instanceof MeshlinkError && err.code === 'not-found') return undefined;
      throw err;
    }
  }

  /**
   * Read, plan a guarded JSON patch, send it; when a `test` op fails because the Service changed
   * in between (409/422 with a new resourceVersion), read again and re-plan.
   */
  private async patchService<T>(
    namespace: string,
    name: string,
    plan: (service: V1Service) => { result: T; ops: JsonPatchOp[] },
    absent: () => T,
  ): Promise<T> {
    const what = `Service ${namespace}/${name}`;
    for (let round = 1; ; round += 1) {
      const service = await this.readService(namespace, name);
      if (!service) return absent();
      const { result, ops } = plan(service);
      if (ops.length === 0) return result;
      const rejected = await this.call(`patch ${what}`, async (c) => {
        try {
          await c.core.patchNamespacedService({ name, namespace, body: ops });
          return undefined;
        } catch (err) {
          if (err instanceof ApiException && (err.code === 409 || err.code === 422)) return err as ApiException<unknown>;
          throw err;
        }
      });
      if (!rejected) return result;
      const now = await this.readService(namespace, name);
      const changed = now?.metadata?.resourceVersion !== service.metadata?.resourceVersion;
      // Unchanged Service: the server refused the patch itself (e.g. a duplicate port name).
      if (!changed) throw translateKubeError(rejected, this.cluster, `patch ${what}`).error;
      if (round >= this.patchAttempts) {
        throw new MeshlinkError('conflict', `cluster ${this.cluster}: ${what} kept changing during ${round} patch attempts`, { cause: rejected });
      }
    }
  }

  private async clients(): Promise<Clients> {
    let kc: KubeConfig;
    try {
      kc = typeof this.source === 'function' ? await this.source() : this.source;
    } catch (err) {
      if (err instanceof MeshlinkError) throw err;
      throw new MeshlinkError('permission-denied', `cannot get credentials for cluster ${this.cluster}`, { cause: err });
    }
    let clients = this.clientCache.get(kc);
    if (!clients) {
      clients = { objects: KubernetesObjectApi.makeApiClient(kc), core: kc.makeApiClient(CoreV1Api) };
      this.clientCache.set(kc, clients);
    }
    return clients;
  }

  /** One API request: bounded per cluster, retried when transient, errors translated. */
  private call<T>(what: string, request: (c: Clients) => Promise<T>): Promise<T> {
    return withRetry(
      this.retry,
      () => this.limiter(async () => request(await this.clients())),
      (err) => translateKubeError(err, this.cluster, what),
    );
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ESOCKETTIMEDOUT', 'UND_ERR_SOCKET']);

/**
 * The one place that maps Kubernetes API failures to MeshlinkError codes: 401/403
 * permission-denied, 404 not-found, 409 conflict, 400/422 invalid-argument (with the Status
 * message), 429/5xx and network failures unavailable (with the server's Retry-After).
 */
export function translateKubeError(err: unknown, cluster: string, what: string): { error: MeshlinkError; retryAfterMs?: number } {
  if (err instanceof MeshlinkError) return { error: err };
  if (err instanceof ApiException) {
    const code = err.code as number;
    const detail = statusMessage(err.body);
    const suffix = detail ? `: ${detail}` : '';
    const make = (c: ConstructorParameters<typeof MeshlinkError>[0], message: string) => new MeshlinkError(c, message, { cause: err });
    if (code === 401) return { error: make('permission-denied', `cluster ${cluster} rejected the credentials (401) to ${what}${suffix}`) };
    if (code === 403) return { error: make('permission-denied', `cluster ${cluster} forbids meshlink to ${what} (403)${suffix}`) };
    // Discovery has no such group/version: the cluster lacks the CRD or that version of it.
    if (code === 404 && err.message.startsWith('Failed to fetch resource metadata')) {
      return { error: make('invalid-argument', `cluster ${cluster} does not serve the kind needed to ${what}: ${err.message.split(':')[0]}`) };
    }
    if (code === 404) return { error: make('not-found', `cluster ${cluster}: ${what}: not found${suffix}`) };
    if (code === 409) return { error: make('conflict', `cluster ${cluster}: ${what}: conflict${suffix}`) };
    if (code === 400 || code === 422) return { error: make('invalid-argument', `cluster ${cluster} rejected ${what} (${code})${suffix}`) };
    if (code === 429 || code >= 500) {
      const headers = (err.headers ?? {}) as Record<string, string | undefined>;
      const retryAfterMs = parseRetryAfter(headers['retry-after'], Date.now());
      const error = make('unavailable', `cluster ${cluster} could not ${what} now (${code})${suffix}`);
      return retryAfterMs === undefined ? { error } : { error, retryAfterMs };
    }
    return { error: make('internal', `cluster ${cluster}: unexpected answer ${code} to ${what}${suffix}`) };
  }
  const e = err as { code?: unknown; errno?: unknown; type?: unknown; name?: unknown; message?: unknown; cause?: { code?: unknown } };
  const sysCode = typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : undefined;
  if ((sysCode !== undefined && NETWORK_CODES.has(sysCode)) || e?.type === 'system' || e?.name === 'AbortError' || e?.type === 'request-timeout') {
    return { error: new MeshlinkError('unavailable', `cluster ${cluster} unreachable to ${what}${sysCode ? ` (${sysCode})` : ''}`, { cause: err }) };
  }
  const message = typeof e?.message === 'string' ? e.message : String(err);
  // Discovery found no such kind: the cluster lacks the CRD or that version of it.
  if (/Unrecognized API version and kind/.test(message)) {
    return { error: new MeshlinkError('invalid-argument', `cluster ${cluster} does not serve the kind needed to ${what} (${message})`, { cause: err }) };
  }
  return { error: new MeshlinkError('internal', `cluster ${cluster}: ${what} failed: ${message}`, { cause: err }) };
}

function statusMessage(body: unknown): string | undefined {
  let status = body;
  if (typeof body === 'string') {
    try {
      status = JSON.parse(body);
    } catch {
      return body.length > 0 ? body.slice(0, 300) : undefined;
    }
  }
  const message = (status as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}

function toPorts(service: V1Service): ServicePort[] {
  return (service.spec?.ports ?? []).map((p) => ({
    name: p.name ?? '',
    port: p.port,
    ...(typeof p.targetPort === 'number' ? { targetPort: p.targetPort } : {}),
    ...(p.protocol === 'TCP' || p.protocol === 'UDP' || p.protocol === 'SCTP' ? { protocol: p.protocol } : {}),
  }));
}

function toV1Port(p: ServicePort): Record<string, unknown> {
  return { name: p.name, port: p.port, protocol: p.protocol ?? 'TCP', ...(p.targetPort === undefined ? {} : { targetPort: p.targetPort }) };
}
