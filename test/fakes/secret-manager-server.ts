// A wire-level fake of Secret Manager v1: a real gRPC server on loopback, built from the .proto
// files the client library ships, so the adapter is tested through the real client and wire format.
// Records live in the store's semantic core; what differs on the real service (alias `latest`,
// FAILED_PRECONDITION on non-enabled versions, names with the project number) is emulated here.
// Not implemented (UNIMPLEMENTED or INVALID_ARGUMENT): IAM methods, managed rotation, filters other
// than `labels.k=v AND ...`, version filters, topics, rotation, expiry, aliases, delayed destroy.
import * as grpc from '@grpc/grpc-js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { crc32c } from '../../shared/store/crc32c.js';
import {
  checkEtag,
  cloneRecord,
  createRecord,
  effectivePageSize,
  findVersion,
  ListingSnapshots,
  newEtag,
  parseVersion,
  validateLabels,
  validatePayload,
  withAnnotations,
  withNewVersion,
  type SecretRecord,
  type VersionRecord,
} from '../../shared/store/model.js';
import { fail, loadService, startGrpcFake, type GrpcFake, type Handlers, type Request } from './grpc-fake.js';

export type { GrpcStatusName } from './grpc-fake.js';

export interface FakeSecretManager extends GrpcFake {
  /** The project id clients use. */
  project: string;
  /** The project number the fake puts in every name it returns, as the real service does. */
  projectNumber: string;
  /** The next AccessSecretVersion returns the payload with one byte flipped and the stored checksum. */
  corruptNextAccess(): void;
  /** Creates a global secret without a call, as CreateSecret would (benchmarks seed 400,000 this way). */
  seedSecret(id: string, meta: { labels: Record<string, string>; annotations: Record<string, string> }): void;
  /** Write calls refused with RESOURCE_EXHAUSTED by the quotas (`quotas` option). */
  readonly quotaRefusals: number;
}

/** Secret Manager's write quotas, counted on the fake's clock over sliding windows. */
export interface WriteQuotas {
  /** Per project and minute (600 on the real service). */
  perMinute: number;
  /** Per secret and second (about 2). */
  perSecretPerSecond: number;
}

export interface FakeSecretManagerOptions {
  clock?: Clock;
  project?: string;
  projectNumber?: string;
  /** Refuse writes past these rates with RESOURCE_EXHAUSTED, as the real service does; none by default. */
  quotas?: WriteQuotas;
}

/** The secret a write call changes (its full name), for the per-secret quota. */
function writtenSecret(method: string, req: Request): string | undefined {
  switch (method) {
    case 'CreateSecret':
      return `${req.parent}/secrets/${req.secretId}`;
    case 'UpdateSecret':
      return req.secret?.name;
    case 'DeleteSecret':
      return req.name;
    case 'AddSecretVersion':
      return req.parent;
    case 'DisableSecretVersion':
    case 'EnableSecretVersion':
    case 'DestroySecretVersion':
      return String(req.name).replace(/\/versions\/[^/]+$/, '');
    default:
      return undefined;
  }
}

/** Sliding-window counters of accepted writes: a call past either window is refused. */
function quotaGate(quotas: WriteQuotas, clock: Clock) {
  const project: number[] = [];
  const perSecret = new Map<string, number[]>();
  const recent = (times: number[], now: number, windowMs: number) => {
    while (times.length > 0 && times[0]! <= now - windowMs) times.shift();
    return times;
  };
  return (secret: string): boolean => {
    const now = clock().getTime();
    const mine = perSecret.get(secret) ?? [];
    perSecret.set(secret, mine);
    if (recent(project, now, 60_000).length >= quotas.perMinute || recent(mine, now, 1000).length >= quotas.perSecretPerSecond) return false;
    project.push(now);
    mine.push(now);
    return true;
  };
}

const SERVICE = 'google.cloud.secretmanager.v1.SecretManagerService';

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

export async function startFakeSecretManager(options: FakeSecretManagerOptions = {}): Promise<FakeSecretManager> {
  const clock = options.clock ?? systemClock;
  const project = options.project ?? 'meshlink-test';
  const projectNumber = options.projectNumber ?? '123456789012';
  let corruptAccesses = 0;
  let quotaRefusals = 0;

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

  const handlers: Handlers = {
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
        else if (p === 'labels') next = withLabels(next, req.secret.labels ?? {});
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

  if (options.quotas) {
    const admit = quotaGate(options.quotas, clock);
    for (const [method, handle] of Object.entries(handlers)) {
      handlers[method] = (req) => {
        const secret = writtenSecret(method, req);
        if (secret !== undefined && !admit(secret)) {
          quotaRefusals++;
          throw fail(grpc.status.RESOURCE_EXHAUSTED, `Quota exceeded for quota metric 'Write requests' (fake quotas)`);
        }
        return handle(req);
      };
    }
  }
  const server = await startGrpcFake(loadService('@google-cloud/secret-manager', 'google/cloud/secretmanager/v1/service.proto', SERVICE), handlers);
  return {
    ...server,
    project,
    projectNumber,
    corruptNextAccess() {
      corruptAccesses++;
    },
    get quotaRefusals() {
      return quotaRefusals;
    },
    seedSecret(id, meta) {
      if (secretsIn('').has(id)) throw new Error(`secret ${id} already exists`);
      store('', createRecord(id, meta, clock()));
    },
  };
}

/** A labels update (the service itself never changes a secret's labels: only this fake's clients do). */
function withLabels(record: SecretRecord, labels: Record<string, string>): SecretRecord {
  validateLabels(labels);
  return { ...cloneRecord(record), labels: { ...labels }, etag: newEtag() };
}
