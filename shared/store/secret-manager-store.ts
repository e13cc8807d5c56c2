// The SecretStore on Google Secret Manager: the only file that imports @google-cloud/secret-manager.
// Builds resource names in one place, normalises the names the API returns (project number),
// checks payload integrity with CRC32C and turns gRPC statuses into MeshlinkError codes.
// Transient failures (quota, unavailable) are retried here, and only here: the client library's
// own retries are switched off per call so the two layers do not multiply.
import type { SecretManagerServiceClient, protos } from '@google-cloud/secret-manager';
import { MeshlinkError, isMeshlinkError, type ErrorCode } from '../errors.js';
import { GRPC, grpcCode, translateGrpcError } from '../grpc-status.js';
import { crc32c } from './crc32c.js';
import { MAX_PAGE_SIZE, effectivePageSize, parseVersion, requireEtag, validateAnnotations, validateLabels, validatePayload, validateSecretId } from './model.js';
import { FOREIGN_SECRET_NAME, type AccessedVersion, type ForeignSecretReader, type ListQuery, type SecretMetadata, type SecretPage, type SecretStore, type SecretVersionInfo, type VersionState } from './port.js';
import { DEFAULT_RETRY_POLICY, realTiming, withRetry, type RetryPolicy, type RetryTiming } from './retry.js';
import { LazyClient } from '../lazy-client.js';

type SecretMessage = protos.google.cloud.secretmanager.v1.ISecret;
type VersionMessage = protos.google.cloud.secretmanager.v1.ISecretVersion;
type ClientOptions = NonNullable<ConstructorParameters<typeof SecretManagerServiceClient>[0]>;

export interface SecretManagerStoreOptions {
  /** Project id (or number). */
  project: string;
  /** Regional secrets: `projects/P/locations/L`, served only by `secretmanager.L.rep.googleapis.com`. */
  location?: string;
  /** Host only; the port goes in `port`. */
  apiEndpoint?: string;
  port?: number;
  /** No TLS and no Google credentials: only for an emulator on a loopback address. */
  plaintext?: boolean;
  /** A ready client (tests); otherwise one is created on first use. */
  client?: SecretManagerServiceClient;
  /** Backoff for RESOURCE_EXHAUSTED and UNAVAILABLE (and DEADLINE_EXCEEDED on reads). */
  retry?: Partial<RetryPolicy>;
  /** Sleep, clock and randomness of the backoff (tests). */
  timing?: RetryTiming;
}

/**
 * Quota and unavailability are retried on every call: a refused call did nothing, and an
 * UNAVAILABLE one that did is recovered per call (see `Attempt`). DEADLINE_EXCEEDED leaves a
 * write's effect unknown, so only reads retry it.
 */
function isTransient(err: unknown, read: boolean): boolean {
  const status = grpcCode(err);
  return status === GRPC.RESOURCE_EXHAUSTED || status === GRPC.UNAVAILABLE || (read && status === GRPC.DEADLINE_EXCEEDED);
}

/** An earlier attempt may have been applied although it failed: the retry must not apply it twice. */
function mayHaveApplied(failures: unknown[]): boolean {
  return failures.some((err) => grpcCode(err) !== GRPC.RESOURCE_EXHAUSTED);
}

/** The client library retries nothing itself (AccessSecretVersion would otherwise back off from 2 s for 10 minutes). */
const NO_LIBRARY_RETRY = { retry: null };

function sameMap(a: Record<string, string> | null | undefined, b: Record<string, string>): boolean {
  const entries = Object.entries(a ?? {});
  return entries.length === Object.keys(b).length && entries.every(([k, v]) => b[k] === v);
}

/** The one translation of client errors into port errors (grpc-status.ts), naming the service. */
function translateError(err: unknown, subject: string, overrides?: Partial<Record<number, ErrorCode>>): MeshlinkError {
  return translateGrpcError('Secret Manager', err, subject, overrides);
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);
const LOCATION = /^[a-z][a-z0-9-]{0,62}$/;

/** The short id or version number from a full name (which comes back with the project number). */
function lastSegment(name: string | null | undefined): string {
  const segment = name?.split('/').at(-1);
  if (!segment) throw new MeshlinkError('internal', `Secret Manager returned a resource without a name`);
  return segment;
}

function isoTime(ts: protos.google.protobuf.ITimestamp | null | undefined): string {
  const seconds = Number(String(ts?.seconds ?? 0));
  return new Date(seconds * 1000 + Math.floor((ts?.nanos ?? 0) / 1_000_000)).toISOString();
}

function toMetadata(secret: SecretMessage): SecretMetadata {
  return {
    id: lastSegment(secret.name),
    labels: { ...secret.labels },
    annotations: { ...secret.annotations },
    etag: secret.etag ?? '',
    createTime: isoTime(secret.createTime),
  };
}

const STATES: ReadonlySet<string> = new Set<VersionState>(['ENABLED', 'DISABLED', 'DESTROYED']);

function toVersionInfo(version: VersionMessage): SecretVersionInfo {
  const state = String(version.state);
  if (!STATES.has(state)) throw new MeshlinkError('internal', `Secret Manager returned version ${version.name} in unexpected state ${state}`);
  return { version: lastSegment(version.name), state: state as VersionState, createTime: isoTime(version.createTime) };
}

/** Labels are validated first, so values can only be `[\p{Ll}\p{Lo}\p{N}_-]*`: nothing to escape. */
function labelFilter(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `labels.${k}=${v === '' ? '""' : v}`)
    .join(' AND ');
}

export class SecretManagerStore implements SecretStore, ForeignSecretReader {
  private readonly parent: string;
  private readonly regional: boolean;
  private readonly clientOptions: ClientOptions;
  private readonly plaintext: boolean;
  private readonly lazy: LazyClient<SecretManagerServiceClient>;
  private readonly retryPolicy: RetryPolicy;
  private readonly timing: RetryTiming;

  constructor(options: SecretManagerStoreOptions) {
    const { project, location, port } = options;
    if (!project || project.includes('/')) throw new MeshlinkError('invalid-argument', `invalid Secret Manager project ${JSON.stringify(project)}`);
    if (location !== undefined && !LOCATION.test(location)) throw new MeshlinkError('invalid-argument', `invalid Secret Manager location ${JSON.stringify(location)}`);
    const endpoint = options.apiEndpoint ?? (location ? `secretmanager.${location}.rep.googleapis.com` : undefined);
    if (endpoint !== undefined && /:\d+$/.test(endpoint) && !LOOPBACK.has(endpoint)) {
      throw new MeshlinkError('invalid-argument', `apiEndpoint ${endpoint} must be a host only: pass the port as \`port\``);
    }
    this.plaintext = options.plaintext ?? false;
    if (this.plaintext && (endpoint === undefined || !LOOPBACK.has(endpoint))) {
      throw new MeshlinkError('invalid-argument', `plaintext Secret Manager connections are only allowed to a loopback endpoint, not ${endpoint ?? 'the Google endpoint'}`);
    }
    this.regional = location !== undefined;
    this.parent = `projects/${project}${location ? `/locations/${location}` : ''}`;
    this.clientOptions = {
      ...(endpoint !== undefined ? { apiEndpoint: endpoint === '::1' ? '[::1]' : endpoint } : {}),
      ...(port !== undefined ? { port } : {}),
    };
    this.lazy = new LazyClient(() => this.createClient(), options.client);
    this.retryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.timing = options.timing ?? realTiming;
  }

  // The only two places that build resource names.
  private secretName(id: string): string {
    validateSecretId(id);
    return `${this.parent}/secrets/${id}`;
  }

  private versionName(id: string, version: number | 'latest'): string {
    return `${this.secretName(id)}/versions/${version}`;
  }

  /** The client is created on first use: loading the library is a large part of a cold start. */
  private client(): Promise<SecretManagerServiceClient> {
    return this.lazy.get();
  }

  private async createClient(): Promise<SecretManagerServiceClient> {
    const { SecretManagerServiceClient: Client } = await import('@google-cloud/secret-manager');
    const options: ClientOptions = { ...this.clientOptions };
    if (this.plaintext) {
      // Insecure channel credentials are used as they are (no Google call credentials); an
      // explicit auth client keeps the library from looking for Application Default Credentials.
      const [{ credentials }, { OAuth2Client }] = await Promise.all([import('@grpc/grpc-js'), import('google-auth-library')]);
      options.sslCreds = credentials.createInsecure();
      options.authClient = new OAuth2Client();
    }
    return new Client(options);
  }

  /**
   * Runs one operation, retrying transient failures, with its errors translated; `subject` names
   * the secret in messages. `work` is told whether an earlier attempt may have been applied.
   */
  private call<T>(
    subject: string,
    work: (client: SecretManagerServiceClient, mayHaveApplied: boolean) => Promise<T>,
    options: { read: boolean; overrides?: Partial<Record<number, ErrorCode>> },
  ): Promise<T> {
    return withRetry(
      this.retryPolicy,
      this.timing,
      async (failures) => work(await this.client(), mayHaveApplied(failures)),
      (err) => isTransient(err, options.read),
      (err, { retries, retryAfterMs }) => {
        const error = translateError(err, retries > 0 ? `${subject} (after ${retries} retries)` : subject, options.overrides);
        return retryAfterMs > 0 && error.code === 'unavailable' ? new MeshlinkError(error.code, error.message, { cause: err, retryAfterMs }) : error;
      },
    );
  }

  private read<T>(subject: string, work: (client: SecretManagerServiceClient) => Promise<T>, overrides?: Partial<Record<number, ErrorCode>>): Promise<T> {
    return this.call(subject, work, { read: true, ...(overrides ? { overrides } : {}) });
  }

  private write<T>(subject: string, work: (client: SecretManagerServiceClient, mayHaveApplied: boolean) => Promise<T>): Promise<T> {
    return this.call(subject, work, { read: false });
  }

  close(): Promise<void> {
    return this.lazy.close();
  }

  async createSecret(id: string, meta: { labels: Record<string, string>; annotations: Record<string, string> }): Promise<SecretMetadata> {
    // Checked before the first attempt, so a bad request costs no write quota.
    validateSecretId(id);
    validateLabels(meta.labels);
    validateAnnotations(meta.annotations);
    return this.write(`create secret ${id}`, async (client, mayHaveApplied) => {
      try {
        const [secret] = await client.createSecret(
          {
            parent: this.parent,
            secretId: id,
            secret: {
              labels: meta.labels,
              annotations: meta.annotations,
              // Regional secrets are replicated by their location and take no replication policy.
              ...(this.regional ? {} : { replication: { automatic: {} } }),
            },
          },
          NO_LIBRARY_RETRY,
        );
        return toMetadata(secret);
      } catch (err) {
        // Our own earlier attempt created it: the secret as asked for is success, anything else is not ours.
        if (mayHaveApplied && grpcCode(err) === GRPC.ALREADY_EXISTS) {
          const existing = await this.getSecret(id);
          if (sameMap(existing.labels, meta.labels) && sameMap(existing.annotations, meta.annotations)) return existing;
        }
        throw err;
      }
    });
  }

  getSecret(id: string): Promise<SecretMetadata> {
    return this.read(`get secret ${id}`, async (client) => {
      const [secret] = await client.getSecret({ name: this.secretName(id) }, NO_LIBRARY_RETRY);
      return toMetadata(secret);
    });
  }

  /** One RPC per page: auto-pagination would fetch every page and spend the read quota. */
  listSecrets(query: ListQuery): Promise<SecretPage> {
    return this.read(`list secrets ${labelFilter(query.labels) || '(all)'}`, async (client) => {
      // Validating labels also keeps filter syntax out of the values.
      validateLabels(query.labels, 'query.labels');
      const [secrets, , response] = await client.listSecrets(
        { parent: this.parent, filter: labelFilter(query.labels), pageSize: effectivePageSize(query.pageSize), pageToken: query.pageToken ?? '' },
        { autoPaginate: false, ...NO_LIBRARY_RETRY },
      );
      const next = response?.nextPageToken;
      return { secrets: secrets.map(toMetadata), ...(next ? { nextPageToken: next } : {}) };
    });
  }

  async updateAnnotations(id: string, annotations: Record<string, string>, etag: string): Promise<SecretMetadata> {
    // An empty etag would make the server skip the precondition.
    requireEtag(etag);
    return this.write(`update annotations of secret ${id}`, async (client, mayHaveApplied) => {
      try {
        const [secret] = await client.updateSecret({ secret: { name: this.secretName(id), annotations, etag }, updateMask: { paths: ['annotations'] } }, NO_LIBRARY_RETRY);
        return toMetadata(secret);
      } catch (err) {
        // Our earlier attempt changed the etag: if the annotations are ours, the update is done.
        if (mayHaveApplied && grpcCode(err) === GRPC.FAILED_PRECONDITION) {
          const current = await this.getSecret(id);
          if (sameMap(current.annotations, annotations)) return current;
        }
        throw err;
      }
    });
  }

  async deleteSecret(id: string, etag?: string): Promise<void> {
    if (etag !== undefined) requireEtag(etag);
    return this.write(`delete secret ${id}`, async (client, mayHaveApplied) => {
      try {
        await client.deleteSecret({ name: this.secretName(id), ...(etag !== undefined ? { etag } : {}) }, NO_LIBRARY_RETRY);
      } catch (err) {
        // Gone after our own earlier attempt: deleted, as asked.
        if (mayHaveApplied && grpcCode(err) === GRPC.NOT_FOUND) return;
        throw err;
      }
    });
  }

  async addVersion(id: string, payload: Uint8Array): Promise<string> {
    validatePayload(payload);
    return this.write(`add a version to secret ${id}`, async (client, mayHaveApplied) => {
      // Every payload holds fresh key material: a newest version with these bytes is our earlier
      // attempt's, taken instead of adding a second one (one payload read, only on this path).
      if (mayHaveApplied) {
        const newest = await this.accessVersion(id).catch((err: unknown) => {
          if (isMeshlinkError(err, 'not-found')) return undefined;
          throw err;
        });
        if (newest && Buffer.from(newest.payload).equals(Buffer.from(payload))) return newest.version;
      }
      const [version] = await client.addSecretVersion(
        {
          parent: this.secretName(id),
          payload: { data: Buffer.from(payload), dataCrc32c: crc32c(payload) },
        },
        NO_LIBRARY_RETRY,
      );
      return lastSegment(version.name);
    });
  }

  /**
   * The service's `latest` is the newest version whatever its state, and reading a version that
   * is not ENABLED is FAILED_PRECONDITION. The port wants the newest ENABLED one and `not-found`,
   * so a refused `latest` falls back to the version list (one metadata read, rare).
   */
  async accessVersion(id: string, version = 'latest'): Promise<AccessedVersion> {
    const wanted = parseVersion(version, true);
    try {
      return await this.access(id, wanted);
    } catch (err) {
      if (wanted !== 'latest' || !isMeshlinkError(err, 'not-found') || !(err.cause && grpcCode(err.cause) === GRPC.FAILED_PRECONDITION)) throw err;
      const newest = (await this.listVersions(id)).find((v) => v.state === 'ENABLED');
      if (!newest) throw new MeshlinkError('not-found', `Secret Manager: secret ${id} has no enabled version`, { cause: err });
      return this.access(id, Number(newest.version));
    }
  }

  /** ForeignSecretReader: the newest version of a secret of the organisation, by full name (issuers). */
  readForeignSecret(resourceName: string): Promise<AccessedVersion> {
    if (!FOREIGN_SECRET_NAME.test(resourceName)) throw new MeshlinkError('invalid-argument', `not a secret resource name: ${resourceName}`);
    return this.access(resourceName, 'latest', `${resourceName}/versions/latest`);
  }

  private access(id: string, version: number | 'latest', name = this.versionName(id, version)): Promise<AccessedVersion> {
    return this.read(
      `read version ${version} of secret ${id}`,
      async (client) => {
        const [response] = await client.accessSecretVersion({ name }, NO_LIBRARY_RETRY);
        const data = response.payload?.data;
        const payload = typeof data === 'string' ? Buffer.from(data, 'base64') : new Uint8Array(data ?? []);
        const checksum = response.payload?.dataCrc32c;
        if (checksum !== null && checksum !== undefined && Number(String(checksum)) !== crc32c(payload)) {
          throw new MeshlinkError('internal', `Secret Manager: version ${version} of secret ${id} failed its CRC32C check`);
        }
        return { version: lastSegment(response.name), payload };
      },
      { [GRPC.FAILED_PRECONDITION]: 'not-found' },
    );
  }

  listVersions(id: string): Promise<SecretVersionInfo[]> {
    return this.read(`list versions of secret ${id}`, async (client) => {
      const versions: SecretVersionInfo[] = [];
      let pageToken = '';
      do {
        const [page, , response] = await client.listSecretVersions({ parent: this.secretName(id), pageSize: MAX_PAGE_SIZE, pageToken }, { autoPaginate: false, ...NO_LIBRARY_RETRY });
        versions.push(...page.map(toVersionInfo));
        pageToken = response?.nextPageToken ?? '';
      } while (pageToken);
      return versions.sort((a, b) => Number(b.version) - Number(a.version));
    });
  }

  disableVersion(id: string, version: string): Promise<void> {
    return this.retire(id, version, 'disable');
  }

  destroyVersion(id: string, version: string): Promise<void> {
    return this.retire(id, version, 'destroy');
  }

  /**
   * Disable and destroy send no version etag, so FAILED_PRECONDITION can only mean the version is
   * already DESTROYED: the goal (unreadable) is met, and a retry after a crash must succeed.
   */
  private async retire(id: string, version: string, how: 'disable' | 'destroy'): Promise<void> {
    try {
      const name = this.versionName(id, parseVersion(version, false));
      // Repeating a disable or destroy our earlier attempt applied changes nothing.
      await this.write(`${how} version ${version} of secret ${id}`, async (client) => {
        if (how === 'disable') await client.disableSecretVersion({ name }, NO_LIBRARY_RETRY);
        else await client.destroySecretVersion({ name }, NO_LIBRARY_RETRY);
      });
    } catch (err) {
      if (isMeshlinkError(err, 'conflict') && grpcCode(err.cause) === GRPC.FAILED_PRECONDITION) return;
      throw err;
    }
  }
}
