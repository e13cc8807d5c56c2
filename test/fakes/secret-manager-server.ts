// A wire-level fake of Secret Manager v1: a real gRPC server on loopback, built from the .proto
// files the client library ships, so the adapter is tested through the real client and wire format.
// Records live in the store's semantic core; what differs on the real service (alias `latest`,
// FAILED_PRECONDITION on non-enabled versions, names with the project number) is emulated here.
// Not implemented (UNIMPLEMENTED or INVALID_ARGUMENT): IAM methods, managed rotation, filters other
// than `labels.k=v AND ...`, version filters, topics, rotation, expiry, aliases, delayed destroy.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { systemClock, type Clock } from '../../shared/clock.js';
import { MeshlinkError, type ErrorCode } from '../../shared/errors.js';
import { crc32c } from '../../shared/store/crc32c.js';
import {
  checkEtag,
  createRecord,
  effectivePageSize,
  findVersion,
  ListingSnapshots,
  newEtag,
  parseVersion,
  validatePayload,
  withAnnotations,
  withLabels,
  withNewVersion,
  type SecretRecord,
  type VersionRecord,
} from '../../shared/store/model.js';

export type GrpcStatusName = keyof typeof grpc.status;

export interface FakeSecretManager {
  port: number;
  /** The project id clients use. */
  project: string;
  /** The project number the fake puts in every name it returns, as the real service does. */
  projectNumber: string;
  /** Calls per RPC name (`ListSecrets`, `AccessSecretVersion`, ...), failed ones included. */
  calls: Record<string, number>;
  /** Every call received, in order, with its answer when it succeeded (payloads included: test data only). */
  requests: { method: string; request: Record<string, unknown>; response?: unknown }[];
  /** The next call of `method` fails with `code` instead of running. */
  failNext(method: string, code: GrpcStatusName, message?: string): void;
  /** The next AccessSecretVersion returns the payload with one byte flipped and the stored checksum. */
  corruptNextAccess(): void;
  /** Creates a global secret without a call, as CreateSecret would (benchmarks seed 400,000 this way). */
  seedSecret(id: string, meta: { labels: Record<string, string>; annotations: Record<string, string> }): void;
  close(): Promise<void>;
}

export interface FakeSecretManagerOptions {
  clock?: Clock;
  project?: string;
  projectNumber?: string;
}

const SERVICE = 'google.cloud.secretmanager.v1.SecretManagerService';

/** The .proto files shipped by @google-cloud/secret-manager, with google/api etc. from google-gax. */
function loadService(): grpc.ServiceDefinition {
  const require = createRequire(import.meta.url);
  const smRoot = path.dirname(require.resolve('@google-cloud/secret-manager/package.json'));
  let gaxRoot = createRequire(path.join(smRoot, 'package.json')).resolve('google-gax');
  while (path.basename(gaxRoot) !== 'google-gax') gaxRoot = path.dirname(gaxRoot);
  const definition = protoLoader.loadSync('google/cloud/secretmanager/v1/service.proto', {
    includeDirs: [path.join(smRoot, 'build', 'protos'), path.join(gaxRoot, 'build', 'protos')],
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return definition[SERVICE] as grpc.ServiceDefinition;
}

const STATUS_OF: Record<ErrorCode, grpc.status> = {
  'invalid-argument': grpc.status.INVALID_ARGUMENT,
  'not-found': grpc.status.NOT_FOUND,
  'already-exists': grpc.status.ALREADY_EXISTS,
  conflict: grpc.status.FAILED_PRECONDITION,
  'permission-denied': grpc.status.PERMISSION_DENIED,
  unavailable: grpc.status.UNAVAILABLE,
  'payload-too-large': grpc.status.INVALID_ARGUMENT,
  'unsupported-media-type': grpc.status.INVALID_ARGUMENT,
  internal: grpc.status.INTERNAL,
};

class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

const fail = (code: grpc.status, message: string) => new RpcError(code, message);

function timestamp(iso: string): { seconds: string; nanos: number } {
  const ms = Date.parse(iso);
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

/** The `labels.k=v AND labels.k2="v2"` subset of the filter syntax; anything else is refused. */
function parseLabelFilter(filter: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (filter.trim() === '') return labels;
  for (const term of filter.trim().split(/\s+AND\s+/)) {
    const m = /^labels\.([^\s=:"]+)\s*=\s*(?:"([^"]*)"|([^\s"]+))$/.exec(term);
    if (!m) throw fail(grpc.status.INVALID_ARGUMENT, `fake supports only "labels.key=value AND ..." filters, got term ${JSON.stringify(term)}`);
    const key = m[1]!;
    if (Object.hasOwn(labels, key)) throw fail(grpc.status.INVALID_ARGUMENT, `label ${key} filtered twice`);
    labels[key] = m[2] ?? m[3]!;
  }
  return labels;
}

/** A decoded request message; each handler reads the fields its RPC defines. */
type Request = Record<string, any>;

export async function startFakeSecretManager(options: FakeSecretManagerOptions = {}): Promise<FakeSecretManager> {
  const clock = options.clock ?? systemClock;
  const project = options.project ?? 'meshlink-test';
  const projectNumber = options.projectNumber ?? '123456789012';
  const calls: Record<string, number> = {};
  const requests: FakeSecretManager['requests'] = [];
  const failures = new Map<string, { code: grpc.status; message: string }[]>();
  let corruptAccesses = 0;

  /** Secrets per scope: '' for global, the location for regional ones. */
  const scopes = new Map<string, Map<string, SecretRecord>>();
  const payloads = new Map<string, Buffer>();
  const clientChecksums = new Set<string>();
  const versionEtags = new Map<string, string>();
  const listings = new ListingSnapshots();

  const secretsIn = (scope: string) => {
    let secrets = scopes.get(scope);
    if (!secrets) scopes.set(scope, (secrets = new Map()));
    return secrets;
  };
  const parentName = (scope: string) => `projects/${projectNumber}${scope ? `/locations/${scope}` : ''}`;
  const secretName = (scope: string, id: string) => `${parentName(scope)}/secrets/${id}`;
  const versionName = (scope: string, id: string, v: number) => `${secretName(scope, id)}/versions/${v}`;

  function checkProject(p: string): void {
    if (p !== project && p !== projectNumber) throw fail(grpc.status.PERMISSION_DENIED, `Permission denied on resource project ${p}.`);
  }

  function parseParent(name: string): string {
    const m = /^projects\/([^/]+)(?:\/locations\/([^/]+))?$/.exec(name);
    if (!m) throw fail(grpc.status.INVALID_ARGUMENT, `malformed parent ${JSON.stringify(name)}`);
    checkProject(m[1]!);
    return m[2] ?? '';
  }

  function parseSecret(name: string): { scope: string; id: string; record: SecretRecord } {
    const m = /^(projects\/[^/]+(?:\/locations\/[^/]+)?)\/secrets\/([^/]+)$/.exec(name);
    if (!m) throw fail(grpc.status.INVALID_ARGUMENT, `malformed secret name ${JSON.stringify(name)}`);
    const scope = parseParent(m[1]!);
    const record = secretsIn(scope).get(m[2]!);
    if (!record) throw fail(grpc.status.NOT_FOUND, `Secret [${secretName(scope, m[2]!)}] not found.`);
    return { scope, id: m[2]!, record };
  }

  /** `latest` is the most recently created version, whatever its state (as on the real service). */
  function parseVersionRef(name: string, allowLatest: boolean): { scope: string; id: string; record: SecretRecord; version: VersionRecord } {
    const m = /^(.*)\/versions\/([^/]+)$/.exec(name);
    if (!m) throw fail(grpc.status.INVALID_ARGUMENT, `malformed version name ${JSON.stringify(name)}`);
    const secret = parseSecret(m[1]!);
    const wanted = parseVersion(m[2]!, allowLatest);
    const number = wanted === 'latest' ? secret.record.versions.length : wanted;
    try {
      return { ...secret, version: findVersion(secret.record, number) };
    } catch {
      throw fail(grpc.status.NOT_FOUND, `Secret Version [${secretName(secret.scope, secret.id)}/versions/${m[2]}] not found.`);
    }
  }

  function secretMessage(scope: string, r: SecretRecord) {
    return {
      name: secretName(scope, r.id),
      ...(scope ? {} : { replication: { automatic: {} } }),
      createTime: timestamp(r.createTime),
      labels: r.labels,
      annotations: r.annotations,
      etag: r.etag,
    };
  }

  function versionMessage(scope: string, id: string, v: VersionRecord) {
    const key = versionName(scope, id, v.version);
    return {
      name: key,
      createTime: timestamp(v.createTime),
      state: v.state,
      etag: versionEtags.get(key) ?? '',
      clientSpecifiedPayloadChecksum: clientChecksums.has(key),
    };
  }

  function store(scope: string, record: SecretRecord): void {
    secretsIn(scope).set(record.id, record);
  }

  function setState(req: Request, to: VersionRecord['state']) {
    const { scope, id, record, version } = parseVersionRef(req.name, false);
    const key = versionName(scope, id, version.version);
    if (req.etag && req.etag !== versionEtags.get(key)) throw fail(grpc.status.FAILED_PRECONDITION, `etag mismatch for ${key}`);
    // On a destroyed version every state change is refused (UNVERIFIED against the real service).
    if (version.state === 'DESTROYED') throw fail(grpc.status.FAILED_PRECONDITION, `Secret Version [${key}] is in DESTROYED state.`);
    const next = { ...record, versions: record.versions.map((v) => (v.version === version.version ? { ...v, state: to } : v)) };
    store(scope, next);
    versionEtags.set(key, newEtag());
    if (to === 'DESTROYED') payloads.delete(key);
    return versionMessage(scope, id, findVersion(next, version.version));
  }

  const handlers: Record<string, (req: Request) => unknown> = {
    async ListSecrets(req) {
      const scope = parseParent(req.parent);
      const labels = parseLabelFilter(req.filter ?? '');
      // Snapshots keep a benchmark's 100,000-link sweep from costing the fake pages x secrets.
      const page = await listings.page({ labels, pageSize: req.pageSize, ...(req.pageToken ? { pageToken: req.pageToken } : {}) }, async () => secretsIn(scope).values());
      return {
        secrets: page.secrets.map((s) => secretMessage(scope, secretsIn(scope).get(s.id)!)),
        nextPageToken: page.nextPageToken ?? '',
        totalSize: req.filter ? 0 : secretsIn(scope).size,
      };
    },

    CreateSecret(req) {
      const scope = parseParent(req.parent);
      const secret = req.secret;
      if (!secret) throw fail(grpc.status.INVALID_ARGUMENT, 'secret is required');
      if (!scope && !secret.replication) throw fail(grpc.status.INVALID_ARGUMENT, 'replication is required for a global secret');
      if (scope && secret.replication) throw fail(grpc.status.INVALID_ARGUMENT, 'a regional secret takes no replication');
      const record = createRecord(req.secretId, { labels: secret.labels ?? {}, annotations: secret.annotations ?? {} }, clock());
      if (secretsIn(scope).has(record.id)) throw fail(grpc.status.ALREADY_EXISTS, `Secret [${secretName(scope, record.id)}] already exists.`);
      store(scope, record);
      return secretMessage(scope, record);
    },

    GetSecret(req) {
      const { scope, record } = parseSecret(req.name);
      return secretMessage(scope, record);
    },

    UpdateSecret(req) {
      const paths: string[] = req.updateMask?.paths ?? [];
      if (!req.secret || paths.length === 0) throw fail(grpc.status.INVALID_ARGUMENT, 'secret and update_mask are required');
      const { scope, record } = parseSecret(req.secret.name);
      checkEtag(record, req.secret.etag || undefined);
      let next = record;
      for (const p of paths) {
        if (p === 'annotations') next = withAnnotations(next, req.secret.annotations ?? {}, undefined);
        else if (p === 'labels') next = withLabels(next, req.secret.labels ?? {}, undefined);
        else throw fail(grpc.status.INVALID_ARGUMENT, `fake cannot update field ${p}`);
      }
      store(scope, next);
      return secretMessage(scope, next);
    },

    DeleteSecret(req) {
      const { scope, id, record } = parseSecret(req.name);
      checkEtag(record, req.etag || undefined);
      for (const v of record.versions) payloads.delete(versionName(scope, id, v.version));
      secretsIn(scope).delete(id);
      return {};
    },

    AddSecretVersion(req) {
      const { scope, id, record } = parseSecret(req.parent);
      const payload = req.payload;
      if (!payload) throw fail(grpc.status.INVALID_ARGUMENT, 'payload is required');
      const data: Buffer = payload.data ?? Buffer.alloc(0);
      validatePayload(data);
      const actual = crc32c(data);
      const given = payload.dataCrc32c;
      const clientSpecified = given !== undefined && given !== null;
      // The proto says only that the service verifies it; the status on mismatch is UNVERIFIED.
      if (clientSpecified && Number(given) !== actual) throw fail(grpc.status.INVALID_ARGUMENT, 'Checksum mismatch: data_crc32c does not match the payload.');
      const { record: next, version } = withNewVersion(record, actual, clock());
      store(scope, next);
      const key = versionName(scope, id, version.version);
      payloads.set(key, Buffer.from(data));
      versionEtags.set(key, newEtag());
      if (clientSpecified) clientChecksums.add(key);
      return versionMessage(scope, id, version);
    },

    ListSecretVersions(req) {
      const { scope, id, record } = parseSecret(req.parent);
      if (req.filter) throw fail(grpc.status.INVALID_ARGUMENT, 'fake supports no version filters');
      const size = effectivePageSize(req.pageSize);
      let before = record.versions.length + 1;
      if (req.pageToken) {
        before = Number(Buffer.from(req.pageToken, 'base64url').toString());
        if (!Number.isInteger(before) || before < 1) throw fail(grpc.status.INVALID_ARGUMENT, 'invalid page token');
      }
      const newestFirst = record.versions.filter((v) => v.version < before).reverse();
      const page = newestFirst.slice(0, size);
      const last = page.at(-1);
      return {
        versions: page.map((v) => versionMessage(scope, id, v)),
        nextPageToken: newestFirst.length > size && last ? Buffer.from(String(last.version)).toString('base64url') : '',
        totalSize: record.versions.length,
      };
    },

    GetSecretVersion(req) {
      const { scope, id, version } = parseVersionRef(req.name, true);
      return versionMessage(scope, id, version);
    },

    AccessSecretVersion(req) {
      const { scope, id, version } = parseVersionRef(req.name, true);
      const key = versionName(scope, id, version.version);
      if (version.state !== 'ENABLED') throw fail(grpc.status.FAILED_PRECONDITION, `Secret Version [${key}] is in ${version.state} state.`);
      let data = Buffer.from(payloads.get(key)!);
      if (corruptAccesses > 0) {
        corruptAccesses--;
        data = data.length > 0 ? Buffer.concat([Buffer.from([data[0]! ^ 0xff]), data.subarray(1)]) : Buffer.from([0]);
      }
      return { name: key, payload: { data, dataCrc32c: String(version.crc32c) } };
    },

    DisableSecretVersion: (req) => setState(req, 'DISABLED'),
    EnableSecretVersion: (req) => setState(req, 'ENABLED'),
    DestroySecretVersion: (req) => setState(req, 'DESTROYED'),
  };

  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [method, handle] of Object.entries(handlers)) {
    implementation[method] = (call: grpc.ServerUnaryCall<Request, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      calls[method] = (calls[method] ?? 0) + 1;
      const entry: FakeSecretManager['requests'][number] = { method, request: call.request };
      requests.push(entry);
      const injected = failures.get(method)?.shift();
      if (injected) return callback({ code: injected.code, details: injected.message });
      Promise.resolve()
        .then(() => handle(call.request))
        .then(
          (response) => {
            entry.response = response;
            callback(null, response);
          },
          (err) => {
            if (err instanceof RpcError) return callback({ code: err.code, details: err.message });
            if (err instanceof MeshlinkError) return callback({ code: STATUS_OF[err.code], details: err.message });
            callback({ code: grpc.status.INTERNAL, details: `fake failed: ${String(err)}` });
          },
        );
    };
  }

  const server = new grpc.Server();
  server.addService(loadService(), implementation);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });

  return {
    port,
    project,
    projectNumber,
    calls,
    requests,
    failNext(method, code, message) {
      if (!(method in handlers)) throw new Error(`the fake does not implement ${method}`);
      const queue = failures.get(method) ?? [];
      queue.push({ code: grpc.status[code], message: message ?? `injected ${code}` });
      failures.set(method, queue);
    },
    corruptNextAccess() {
      corruptAccesses++;
    },
    seedSecret(id, meta) {
      if (secretsIn('').has(id)) throw new Error(`secret ${id} already exists`);
      store('', createRecord(id, meta, clock()));
    },
    close: () =>
      new Promise<void>((resolve) => {
        // Graceful first; a client that keeps a call open must not hang the test run.
        const force = setTimeout(() => server.forceShutdown(), 1000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
