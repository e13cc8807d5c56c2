// A wire-level fake of the Kubernetes API subset meshlink uses, over HTTPS with a bearer token.
//
// Supports: discovery (/api, /api/v1, /apis, /apis/networking.istio.io[/v1|/v1beta1]); secrets,
// services and pods (core v1) and gateways, virtualservices, destinationrules, serviceentries (Istio v1
// and v1beta1, one store per group as a real server has); GET, LIST (all namespaces or one, with
// an equality labelSelector and fieldSelector), POST, PATCH (server-side apply create-or-update, JSON patch with
// test/add/remove/replace), DELETE and DELETE collection. Errors are Status objects. Test hooks:
// failNext, beforeNext, a request log, objects(), wipe(), seedService(), seedPod().
// With `pathPrefix` the API is served under that path only, as the Connect gateway serves a
// fleet member's API under /v1/projects/NUMBER/locations/L/memberships/M.
// The CA and server certificate are minted at start by the `openssl` command into a temporary
// directory that is removed at once (no key material is committed or kept on disk).
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';

const run = promisify(execFile);

export interface RecordedRequest {
  method: string;
  /** Path without the query string (and without the path prefix, when it had it). */
  path: string;
  query: Record<string, string>;
  contentType?: string;
  status: number;
  /** Set when the fake serves under a path prefix and this request's path was outside it (404). */
  outside?: true;
}

export interface StoredObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [key: string]: unknown;
}

export interface SeedPort {
  name: string;
  port: number;
  targetPort?: number;
  protocol?: string;
}

export interface FakeKubeApiOptions {
  /** Serve the API under this path (no trailing slash); anything outside it answers 404. */
  pathPrefix?: string;
  /** The bearer token to accept; default a random one. */
  token?: string;
}

export interface FakeKubeApi {
  /** The API server URL as a kubeconfig names it: origin plus the path prefix, if any. */
  url: string;
  /** `https://127.0.0.1:PORT`. */
  origin: string;
  caPem: string;
  token: string;
  /** Every request answered, in order (live array; set length to 0 to reset). */
  requests: RecordedRequest[];
  /** The next request matching method and path answers `status` (with Retry-After seconds if given). */
  failNext(method: string, path: RegExp, status: number, retryAfter?: number): void;
  /** Runs `hook` just before the next matching request is handled (to simulate a concurrent writer). */
  beforeNext(method: string, path: RegExp, hook: () => void): void;
  /** Holds every answer this long, so that concurrent requests overlap (0 = answer at once). */
  setLatency(ms: number): void;
  /** Most requests ever handled at the same time. */
  peakInFlight(): number;
  /** Deep copies of all stored objects. */
  objects(): StoredObject[];
  /** Replaces a stored object's content in place (bumps resourceVersion), as another writer would. */
  mutate(namespace: string, plural: string, name: string, change: (object: StoredObject) => void): void;
  seedService(namespace: string, name: string, ports: SeedPort[], lbAddress?: string): void;
  /** A pod with these labels in this phase (`Running`, `Pending`, `Succeeded`, `Failed`). */
  seedPod(namespace: string, name: string, labels: Record<string, string>, phase?: string): void;
  wipe(): void;
  close(): Promise<void>;
}

interface Resource {
  group: string; // '' for core
  plural: string;
  singular: string;
  kind: string;
}

const CORE: Resource[] = [
  { group: '', plural: 'secrets', singular: 'secret', kind: 'Secret' },
  { group: '', plural: 'services', singular: 'service', kind: 'Service' },
  { group: '', plural: 'pods', singular: 'pod', kind: 'Pod' },
];
const ISTIO_GROUP = 'networking.istio.io';
const ISTIO: Resource[] = [
  { group: ISTIO_GROUP, plural: 'gateways', singular: 'gateway', kind: 'Gateway' },
  { group: ISTIO_GROUP, plural: 'virtualservices', singular: 'virtualservice', kind: 'VirtualService' },
  { group: ISTIO_GROUP, plural: 'destinationrules', singular: 'destinationrule', kind: 'DestinationRule' },
  { group: ISTIO_GROUP, plural: 'serviceentries', singular: 'serviceentry', kind: 'ServiceEntry' },
];
const ISTIO_VERSIONS = ['v1', 'v1beta1'];
const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** True when the `openssl` command can be run (the fake needs it to mint its certificates). */
export async function opensslAvailable(): Promise<boolean> {
  try {
    await run('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
}

async function mintServerCertificate(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  if (!(await opensslAvailable())) throw new Error('the fake Kubernetes API server needs the `openssl` command to mint its certificates');
  const dir = await mkdtemp(join(tmpdir(), 'fake-kube-'));
  try {
    const p = (f: string) => join(dir, f);
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    await run('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '1', '-subj', '/CN=fake-kube-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    await run('openssl', ['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=kube-apiserver']);
    await writeFile(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n');
    await run('openssl', ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-set_serial', `0x${randomBytes(8).toString('hex')}`,
      '-days', '1', '-extfile', p('ext.cnf'), '-out', p('server.crt')]);
    const [caPem, certPem, keyPem] = await Promise.all([readFile(p('ca.crt'), 'utf8'), readFile(p('server.crt'), 'utf8'), readFile(p('server.key'), 'utf8')]);
    return { caPem, certPem, keyPem };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function startFakeKubeApi(options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
  const prefix = options.pathPrefix ?? '';
  if (prefix !== '' && !/^(\/[^/?#]+)+$/.test(prefix)) throw new Error(`pathPrefix must look like /a/b, got "${prefix}"`);
  const { caPem, certPem, keyPem } = await mintServerCertificate();
  const token = options.token ?? randomBytes(16).toString('hex');
  const requests: RecordedRequest[] = [];
  const failures: { method: string; path: RegExp; status: number; retryAfter?: number }[] = [];
  const hooks: { method: string; path: RegExp; hook: () => void }[] = [];
  // key: group|plural|namespace|name (all versions of a group share one store, as in Kubernetes)
  const store = new Map<string, StoredObject>();
  const applied = new Map<string, Set<string>>(); // key|manager -> paths it last applied
  let revision = 1000;
  let latencyMs = 0;
  let inFlight = 0;
  let peak = 0;
  const nextVersion = () => String(++revision);
  const key = (r: Resource, ns: string, name: string) => `${r.group}|${r.plural}|${ns}|${name}`;

  const server = createServer({ cert: certPem, key: keyPem }, (req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    inFlight += 1;
    peak = Math.max(peak, inFlight);
    res.on('finish', () => {
      inFlight -= 1;
    });
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const outside = !(url.pathname === prefix || url.pathname.startsWith(`${prefix}/`));
    if (!outside) url.pathname = url.pathname.slice(prefix.length) || '/';
    const method = req.method ?? 'GET';
    const query = Object.fromEntries(url.searchParams);
    const contentType = req.headers['content-type']?.split(';')[0]?.trim();
    const body = await readBody(req);
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      requests.push({ method, path: url.pathname, query, ...(contentType ? { contentType } : {}), status, ...(outside ? { outside: true as const } : {}) });
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };
    try {
      if (outside) throw new HttpError(404, 'the server could not find the requested resource');
      if (req.headers.authorization !== `Bearer ${token}`) throw new HttpError(401, 'Unauthorized');
      const failure = failures.findIndex((f) => f.method === method && f.path.test(url.pathname));
      if (failure >= 0) {
        const [f] = failures.splice(failure, 1);
        const headers: Record<string, string> = f!.retryAfter === undefined ? {} : { 'retry-after': String(f!.retryAfter) };
        send(f!.status, status(f!.status, `injected failure ${f!.status}`), headers);
        return;
      }
      const hook = hooks.findIndex((h) => h.method === method && h.path.test(url.pathname));
      if (hook >= 0) hooks.splice(hook, 1)[0]!.hook();
      const [code, payload] = route(method, url.pathname, query, contentType, body);
      send(code, payload);
    } catch (err) {
      if (err instanceof HttpError) send(err.status, status(err.status, err.message, err.details));
      else send(500, status(500, String(err)));
    }
  }

  function route(method: string, path: string, query: Record<string, string>, contentType: string | undefined, body: string): [number, unknown] {
    const discovery = discover(path);
    if (discovery !== undefined) {
      if (method !== 'GET') throw new HttpError(405, 'method not allowed');
      return [200, discovery];
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/.exec(path);
    if (!m) throw new HttpError(404, 'the server could not find the requested resource');
    const group = m[2] ?? '';
    const version = m[1] ?? m[3]!;
    const ns = m[4] === undefined ? undefined : decodeURIComponent(m[4]);
    const plural = m[5]!;
    const name = m[6] === undefined ? undefined : decodeURIComponent(m[6]);
    const resource = resourcesOf(group, version).find((r) => r.plural === plural);
    if (!resource) throw new HttpError(404, 'the server could not find the requested resource');
    const apiVersion = group === '' ? version : `${group}/${version}`;

    if (name === undefined) {
      if (method === 'GET') return [200, listOf(resource, apiVersion, list(resource, ns, query.labelSelector, query.fieldSelector))];
      if (ns === undefined) throw new HttpError(405, 'method not allowed');
      if (method === 'POST') return [201, create(resource, apiVersion, ns, parseBody(body))];
      if (method === 'DELETE') {
        const gone = list(resource, ns, query.labelSelector);
        for (const o of gone) store.delete(key(resource, ns, o.metadata.name));
        return [200, listOf(resource, apiVersion, gone)];
      }
      throw new HttpError(405, 'method not allowed');
    }
    if (ns === undefined) throw new HttpError(404, 'the server could not find the requested resource');
    const k = key(resource, ns, name);
    const current = store.get(k);
    const notFound = () => new HttpError(404, `${resource.plural}${resource.group ? '.' + resource.group : ''} "${name}" not found`, { name, group: resource.group, kind: resource.plural });
    switch (method) {
      case 'GET':
        if (!current) throw notFound();
        return [200, present(current, apiVersion)];
      case 'DELETE':
        if (!current) throw notFound();
        store.delete(k);
        for (const a of [...applied.keys()]) if (a.startsWith(`${k}|`)) applied.delete(a);
        return [200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: resource.group, kind: resource.plural } }];
      case 'PATCH':
        if (contentType === 'application/apply-patch+yaml') return serverSideApply(resource, apiVersion, ns, name, query, body);
        if (contentType === 'application/json-patch+json') {
          if (!current) throw notFound();
          return [200, present(jsonPatch(resource, k, current, body), apiVersion)];
        }
        throw new HttpError(415, `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/apply-patch+yaml`);
      default:
        throw new HttpError(405, 'method not allowed');
    }
  }

  function list(resource: Resource, ns: string | undefined, labelSelector: string | undefined, fieldSelector?: string): StoredObject[] {
    const match = selector(labelSelector);
    const fields = fieldMatcher(resource, fieldSelector);
    return [...store.entries()]
      .filter(([k]) => k.startsWith(`${resource.group}|${resource.plural}|${ns === undefined ? '' : `${ns}|`}`))
      .map(([, o]) => o)
      .filter((o) => match(o.metadata.labels ?? {}) && fields(o));
  }

  function create(resource: Resource, apiVersion: string, ns: string, object: StoredObject): StoredObject {
    const name = object.metadata?.name;
    if (typeof name !== 'string') throw new HttpError(422, `${resource.kind} is invalid: metadata.name: Required value`);
    const k = key(resource, ns, name);
    if (store.has(k)) throw new HttpError(409, `${resource.plural} "${name}" already exists`, { name, kind: resource.plural });
    const stored = fresh(resource, apiVersion, ns, object, 'Update', 'unknown');
    store.set(k, stored);
    return present(stored, apiVersion);
  }

  function fresh(resource: Resource, apiVersion: string, ns: string, object: StoredObject, operation: string, manager: string): StoredObject {
    const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ct, managedFields: _mf, ...meta } = object.metadata;
    return {
      ...clone(object),
      apiVersion,
      kind: resource.kind,
      metadata: {
        ...clone(meta),
        namespace: ns,
        uid: randomUUID(),
        resourceVersion: nextVersion(),
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        managedFields: [managedField(manager, operation, apiVersion)],
      },
    };
  }

  /** Create-or-update; the manager's previously applied fields it no longer sends are dropped. */
  function serverSideApply(resource: Resource, apiVersion: string, ns: string, name: string, query: Record<string, string>, body: string): [number, unknown] {
    const manager = query.fieldManager;
    if (!manager) throw new HttpError(400, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
    const intent = parseBody(body);
    if (intent.kind !== resource.kind || intent.apiVersion !== apiVersion) {
      throw new HttpError(400, `the API version in the data (${String(intent.apiVersion)}) and kind (${String(intent.kind)}) do not match the request (${apiVersion} ${resource.kind})`);
    }
    if (intent.metadata?.name !== name) throw new HttpError(400, 'the name of the object does not match the name on the URL');
    if (intent.metadata.namespace !== undefined && intent.metadata.namespace !== ns) {
      throw new HttpError(400, 'the namespace of the object does not match the namespace on the URL');
    }
    const k = key(resource, ns, name);
    const current = store.get(k);
    const owned = fieldPaths(intent);
    const mk = `${k}|${manager}`;
    if (!current) {
      const created = fresh(resource, apiVersion, ns, intent, 'Apply', manager);
      validate(resource, created);
      store.set(k, created);
      applied.set(mk, owned);
      return [201, present(created, apiVersion)];
    }
    if (intent.metadata.resourceVersion !== undefined && intent.metadata.resourceVersion !== current.metadata.resourceVersion) {
      throw new HttpError(409, `Operation cannot be fulfilled on ${resource.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    const next = clone(current);
    for (const path of applied.get(mk) ?? []) if (!owned.has(path)) deletePath(next, path);
    for (const path of owned) setPath(next, path, getPath(intent, path));
    next.metadata.managedFields = [
      ...((current.metadata.managedFields as { manager: string }[] | undefined) ?? []).filter((f) => f.manager !== manager),
      managedField(manager, 'Apply', apiVersion),
    ];
    validate(resource, next);
    applied.set(mk, owned);
    if (!sameContent(current, next)) next.metadata.resourceVersion = nextVersion();
    store.set(k, next);
    return [200, present(next, apiVersion)];
  }

  function jsonPatch(resource: Resource, k: string, current: StoredObject, body: string): StoredObject {
    let ops: { op: string; path: string; value?: unknown }[];
    try {
      ops = JSON.parse(body);
    } catch {
      throw new HttpError(400, 'the body of the request was not valid JSON');
    }
    if (!Array.isArray(ops)) throw new HttpError(400, 'a JSON patch must be an array of operations');
    const doc = clone(current) as unknown;
    for (const op of ops) applyOp(doc, op);
    const next = doc as StoredObject;
    if (next.metadata.resourceVersion !== current.metadata.resourceVersion) {
      throw new HttpError(409, 'Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again');
    }
    validate(resource, next);
    if (!sameContent(current, next)) next.metadata.resourceVersion = nextVersion();
    store.set(k, next);
    return next;
  }

  const api: FakeKubeApi = {
    url: '',
    origin: '',
    caPem,
    token,
    requests,
    failNext(method, path, status, retryAfter) {
      failures.push({ method, path, status, ...(retryAfter === undefined ? {} : { retryAfter }) });
    },
    beforeNext(method, path, hook) {
      hooks.push({ method, path, hook });
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    peakInFlight: () => peak,
    objects() {
      return [...store.values()].map(clone);
    },
    mutate(namespace, plural, name, change) {
      const entry = [...store.entries()].find(([k]) => k.endsWith(`|${plural}|${namespace}|${name}`));
      if (!entry) throw new Error(`no ${plural} ${namespace}/${name} to mutate`);
      const next = clone(entry[1]);
      change(next);
      next.metadata.resourceVersion = nextVersion();
      store.set(entry[0], next);
    },
    seedService(namespace, name, ports, lbAddress) {
      const service: StoredObject = {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace },
        spec: { type: 'LoadBalancer', selector: { istio: name }, ports: ports.map((p) => ({ protocol: 'TCP', targetPort: p.port, ...p })) },
        status: lbAddress === undefined ? {} : { loadBalancer: { ingress: [/^[\d.]+$|:/.test(lbAddress) ? { ip: lbAddress } : { hostname: lbAddress }] } },
      };
      store.set(key(CORE[1]!, namespace, name), fresh(CORE[1]!, 'v1', namespace, service, 'Update', 'helm'));
    },
    seedPod(namespace, name, labels, phase = 'Running') {
      const pod: StoredObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels }, spec: { containers: [{ name: 'istio-proxy', image: 'istio/proxyv2' }] }, status: { phase } };
      const pods = CORE.find((r) => r.plural === 'pods')!;
      store.set(key(pods, namespace, name), fresh(pods, 'v1', namespace, pod, 'Update', 'kubelet'));
    },
    wipe() {
      store.clear();
      applied.clear();
      failures.length = 0;
      hooks.length = 0;
      requests.length = 0;
      peak = inFlight;
      latencyMs = 0;
    },
    close() {
      return new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      });
    },
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  api.url = `${api.origin}${prefix}`;
  return api;
}

function resourcesOf(group: string, version: string): Resource[] {
  if (group === '' && version === 'v1') return CORE;
  if (group === ISTIO_GROUP && ISTIO_VERSIONS.includes(version)) return ISTIO;
  return [];
}

function discover(path: string): unknown {
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
  const groupVersions = ISTIO_VERSIONS.map((v) => ({ groupVersion: `${ISTIO_GROUP}/${v}`, version: v }));
  const istioGroup = { name: ISTIO_GROUP, versions: groupVersions, preferredVersion: groupVersions[0] };
  if (path === '/apis') return { kind: 'APIGroupList', apiVersion: 'v1', groups: [istioGroup] };
  if (path === `/apis/${ISTIO_GROUP}`) return { kind: 'APIGroup', apiVersion: 'v1', ...istioGroup };
  const rl = (groupVersion: string, resources: Resource[]) => ({
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: resources.map((r) => ({ name: r.plural, singularName: r.singular, namespaced: true, kind: r.kind, verbs: VERBS })),
  });
  if (path === '/api/v1') return rl('v1', CORE);
  for (const v of ISTIO_VERSIONS) if (path === `/apis/${ISTIO_GROUP}/${v}`) return rl(`${ISTIO_GROUP}/${v}`, ISTIO);
  return undefined;
}

/** The one validation the adapter can trip: Service ports unique by name and by port. */
function validate(resource: Resource, object: StoredObject): void {
  if (resource.kind !== 'Service') return;
  const ports = ((object.spec as { ports?: { name?: string; port?: number }[] } | undefined)?.ports ?? []);
  const names = new Set<string>();
  const numbers = new Set<number>();
  ports.forEach((p, i) => {
    if (p.name !== undefined && names.has(p.name)) throw new HttpError(422, `Service "${object.metadata.name}" is invalid: spec.ports[${i}].name: Duplicate value: "${p.name}"`);
    if (p.port !== undefined && numbers.has(p.port)) throw new HttpError(422, `Service "${object.metadata.name}" is invalid: spec.ports[${i}]: Duplicate value: ${p.port}`);
    if (p.name !== undefined) names.add(p.name);
    if (p.port !== undefined) numbers.add(p.port);
  });
}

function status(code: number, message: string, details?: Record<string, unknown>): unknown {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: REASONS[code] ?? 'Unknown', ...(details ? { details } : {}), code };
}

/** Core objects come back in lists without apiVersion/kind, as a real server sends them. */
function listOf(resource: Resource, apiVersion: string, items: StoredObject[]): unknown {
  return {
    kind: `${resource.kind}List`,
    apiVersion,
    metadata: { resourceVersion: '1' },
    items: items.map((o) => {
      const shown = present(o, apiVersion);
      if (resource.group !== '') return shown;
      const { apiVersion: _a, kind: _k, ...rest } = shown;
      return rest;
    }),
  };
}

function present(object: StoredObject, apiVersion: string): StoredObject {
  return { ...clone(object), apiVersion };
}

function managedField(manager: string, operation: string, apiVersion: string) {
  return { manager, operation, apiVersion, time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), fieldsType: 'FieldsV1', fieldsV1: {} };
}

// Field selectors a real server accepts for these kinds (every kind: metadata.name and .namespace).
const FIELD_LABELS: Record<string, string[]> = { Pod: ['status.phase', 'spec.nodeName'], Secret: ['type'] };

/** Equality field selectors (`status.phase=Running`, `!=`), on the fields the kind supports. */
function fieldMatcher(resource: Resource, text: string | undefined): (object: StoredObject) => boolean {
  if (!text) return () => true;
  const allowed = ['metadata.name', 'metadata.namespace', ...(FIELD_LABELS[resource.kind] ?? [])];
  const terms = text.split(',').map((t) => t.trim()).filter(Boolean).map((term) => {
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw new HttpError(400, `invalid field selector: ${term}`);
    const [, field, op, value] = m;
    if (!allowed.includes(field!)) throw new HttpError(400, `field label not supported: ${field}`);
    return (o: StoredObject) => {
      const have = field!.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o);
      const equal = String(have ?? '') === value;
      return op === '!=' ? !equal : equal;
    };
  });
  return (o) => terms.every((t) => t(o));
}

/** Equality-based selectors: `k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated (all must hold). */
function selector(text: string | undefined): (labels: Record<string, string>) => boolean {
  if (!text) return () => true;
  const terms = text.split(',').map((t) => t.trim()).filter(Boolean).map((term) => {
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (m) {
      const [, k, op, v] = m;
      return (l: Record<string, string>) => (op === '!=' ? l[k!] !== v : l[k!] === v);
    }
    if (term.startsWith('!')) return (l: Record<string, string>) => !(term.slice(1) in l);
    if (/\s(in|notin)\s/.test(term)) throw new HttpError(400, `unable to parse requirement: set-based selectors are not supported by this fake: ${term}`);
    return (l: Record<string, string>) => term in l;
  });
  return (labels) => terms.every((t) => t(labels));
}

function parseBody(body: string): StoredObject {
  let value: unknown;
  try {
    value = parseYaml(body);
  } catch {
    throw new HttpError(400, 'the body of the request could not be decoded');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new HttpError(400, 'the body of the request must be an object');
  const o = value as StoredObject;
  if (!o.metadata || typeof o.metadata !== 'object') throw new HttpError(422, 'metadata: Required value');
  return o;
}

// Paths the manager sets: every leaf of the applied object except identity and server fields.
// Lists are atomic (owned as a whole), as Istio's CRDs declare them.
function fieldPaths(object: StoredObject): Set<string> {
  const paths = new Set<string>();
  const walk = (value: unknown, path: string[]) => {
    if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    } else paths.add(JSON.stringify(path));
  };
  for (const [k, v] of Object.entries(object)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'status') continue;
    if (k === 'metadata') {
      for (const field of ['labels', 'annotations'] as const) {
        for (const [lk, lv] of Object.entries(object.metadata[field] ?? {})) walk(lv, ['metadata', field, lk]);
      }
      continue;
    }
    walk(v, [k]);
  }
  return paths;
}

function getPath(object: unknown, path: string): unknown {
  return (JSON.parse(path) as string[]).reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], object);
}

function setPath(object: unknown, path: string, value: unknown): void {
  const keys = JSON.parse(path) as string[];
  let o = object as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) {
    if (!o[k] || typeof o[k] !== 'object') o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[keys[keys.length - 1]!] = clone(value);
}

function deletePath(object: unknown, path: string): void {
  const keys = JSON.parse(path) as string[];
  const parent = keys.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], object) as Record<string, unknown> | undefined;
  if (parent && typeof parent === 'object') delete parent[keys[keys.length - 1]!];
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new HttpError(422, `invalid JSON pointer ${path}`);
  return path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function applyOp(doc: unknown, op: { op: string; path: string; value?: unknown }): void {
  const keys = pointer(op.path);
  const last = keys[keys.length - 1];
  if (last === undefined) throw new HttpError(422, 'cannot patch the document root');
  const parent = keys.slice(0, -1).reduce<unknown>((o, k) => {
    const next = Array.isArray(o) ? o[Number(k)] : (o as Record<string, unknown> | undefined)?.[k];
    if (next === undefined || next === null) throw new HttpError(422, `the server rejected our request due to an error in our request: missing path ${op.path}`);
    return next;
  }, doc);
  const invalid = (why: string) => new HttpError(422, `the server rejected our request due to an error in our request: ${why}`);
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw invalid(`index ${last} out of range at ${op.path}`);
    switch (op.op) {
      case 'test':
        if (JSON.stringify(parent[index]) !== JSON.stringify(op.value)) throw invalid(`testing value ${op.path} failed`);
        return;
      case 'add':
        parent.splice(index, 0, clone(op.value));
        return;
      case 'remove':
        if (index >= parent.length) throw invalid(`no element at ${op.path}`);
        parent.splice(index, 1);
        return;
      case 'replace':
        if (index >= parent.length) throw invalid(`no element at ${op.path}`);
        parent[index] = clone(op.value);
        return;
    }
  } else if (parent && typeof parent === 'object') {
    const o = parent as Record<string, unknown>;
    switch (op.op) {
      case 'test':
        if (JSON.stringify(o[last]) !== JSON.stringify(op.value)) throw invalid(`testing value ${op.path} failed`);
        return;
      case 'add':
        o[last] = clone(op.value);
        return;
      case 'remove':
        if (!(last in o)) throw invalid(`no member at ${op.path}`);
        delete o[last];
        return;
      case 'replace':
        if (!(last in o)) throw invalid(`no member at ${op.path}`);
        o[last] = clone(op.value);
        return;
    }
  } else throw invalid(`cannot reach ${op.path}`);
  throw invalid(`unsupported operation ${op.op}`);
}

function sameContent(a: StoredObject, b: StoredObject): boolean {
  const strip = (o: StoredObject) => JSON.stringify({ ...o, metadata: { ...o.metadata, managedFields: undefined, resourceVersion: undefined } });
  return strip(a) === strip(b);
}

function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
