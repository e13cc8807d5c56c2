// Claims as objects of a Cloud Storage bucket: the only file that imports @google-cloud/storage.
// An object is created only if absent (`ifGenerationMatch: 0`), read for its metadata, and deleted
// only at the generation read: the lock pattern of Terraform's GCS backend. Cloud Storage is
// strongly consistent for these (Secret Manager documents its operations other than reading a
// version just added as eventually consistent), and they cost no Secret Manager quota.
// 429 and 5xx are retried here (store/retry.ts), the client library's own retries switched off.
// Every call carries a generation precondition or is a read, so a retry whose first attempt was
// applied is recognised: a create answered 412 by our own object, a delete answered 404.
import type { Bucket, File, FileMetadata } from '@google-cloud/storage';
import { MeshlinkError, type ErrorCode } from '../../errors.js';
import { LazyClient } from '../../lazy-client.js';
import { DEFAULT_RETRY_POLICY, realTiming, withRetry, type RetryPolicy, type RetryTiming } from '../retry.js';
import type { Claim, ClaimStore } from './port.js';
import { BUCKET_NAME } from './bucket-name.js';

export interface CloudStorageClaimsOptions {
  bucket: string;
  /** `http://127.0.0.1:PORT`: a local test server, reached without Google credentials (loopback only). */
  apiEndpoint?: string;
  /** Backoff for 429 and 5xx. */
  retry?: Partial<RetryPolicy>;
  /** Sleep, clock and randomness of the backoff (tests). */
  timing?: RetryTiming;
}

const LOOPBACK_URL = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+$/;

/** HTTP statuses the JSON API answers, as port errors; 412 is read per call. */
function codeOf(status: number | undefined): ErrorCode {
  if (status === 404) return 'not-found';
  if (status === 409 || status === 412) return 'conflict';
  if (status === 401 || status === 403) return 'permission-denied';
  if (status === 400) return 'invalid-argument';
  if (status !== undefined && isTransientStatus(status)) return 'unavailable';
  return 'internal';
}

/** What Cloud Storage's retry strategy retries: rate limits and server errors. */
function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function toClaim(id: string, meta: FileMetadata): Claim {
  const metadata = Object.fromEntries(Object.entries(meta.metadata ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'));
  return { id, labels: metadata, createTime: String(meta.timeCreated ?? ''), etag: String(meta.generation ?? '') };
}

function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  return Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v);
}

export class CloudStorageClaims implements ClaimStore {
  private readonly lazy: LazyClient<{ bucket: Bucket; close(): Promise<void> }>;
  private readonly retryPolicy: RetryPolicy;
  private readonly timing: RetryTiming;

  constructor(private readonly options: CloudStorageClaimsOptions) {
    if (!BUCKET_NAME.test(options.bucket)) throw new MeshlinkError('invalid-argument', `invalid Cloud Storage bucket name ${JSON.stringify(options.bucket)}`);
    if (options.apiEndpoint !== undefined && !LOOPBACK_URL.test(options.apiEndpoint)) {
      throw new MeshlinkError('invalid-argument', `a Cloud Storage apiEndpoint is only for a local test server (http://127.0.0.1:PORT), not ${options.apiEndpoint}`);
    }
    this.lazy = new LazyClient(() => this.createClient());
    this.retryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.timing = options.timing ?? realTiming;
  }

  private async createClient() {
    const { Storage } = await import('@google-cloud/storage');
    const { apiEndpoint } = this.options;
    // A custom endpoint is a local test server: the library then sends no credentials (useAuthWithCustomEndpoint).
    const storage = new Storage({ retryOptions: { autoRetry: false }, ...(apiEndpoint ? { apiEndpoint, useAuthWithCustomEndpoint: false } : {}) });
    return { bucket: storage.bucket(this.options.bucket), close: async () => {} };
  }

  close(): Promise<void> {
    return this.lazy.close();
  }

  /** One call on the object `id`, transient failures retried; told whether an earlier attempt may have been applied. */
  private call<T>(subject: string, id: string | undefined, work: (file: (name: string) => File, bucket: Bucket, mayHaveApplied: boolean) => Promise<T>, overrides: Partial<Record<number, ErrorCode>> = {}): Promise<T> {
    const what = `Cloud Storage: ${subject} gs://${this.options.bucket}/${id ?? ''}`;
    return withRetry(
      this.retryPolicy,
      this.timing,
      async (failures) => {
        const { bucket } = await this.lazy.get();
        // Only a 429 is sure to have changed nothing.
        return work((name) => bucket.file(name), bucket, failures.some((f) => statusOf(f) !== 429));
      },
      (err) => isTransientStatus(statusOf(err) ?? 0),
      (err, { retries, retryAfterMs }) => {
        if (err instanceof MeshlinkError) return err;
        const status = statusOf(err);
        const code = (status !== undefined && overrides[status]) || codeOf(status);
        const reason = `${status ?? ''} ${(err as Error | null)?.message ?? String(err)}`.trim();
        const message = `${what}${retries > 0 ? ` (after ${retries} retries)` : ''}: ${reason}`;
        return new MeshlinkError(code, message, { cause: err, ...(retryAfterMs > 0 && code === 'unavailable' ? { retryAfterMs } : {}) });
      },
    );
  }

  create(id: string, meta: { labels: Record<string, string>; annotations: Record<string, string> }): Promise<void> {
    const metadata = { ...meta.annotations, ...meta.labels };
    return this.call(
      'create',
      id,
      async (file, _bucket, mayHaveApplied) => {
        try {
          // A one-request (multipart) upload of no bytes: the claim is its metadata.
          await file(id).save('', { resumable: false, validation: false, contentType: 'text/plain', metadata: { metadata }, preconditionOpts: { ifGenerationMatch: 0 } });
        } catch (err) {
          // Our own earlier attempt made it (its answer lost): the object as asked for is success.
          if (mayHaveApplied && statusOf(err) === 412) {
            const existing = await this.read(id);
            if (existing && sameMap(existing.labels, metadata)) return;
          }
          throw err;
        }
      },
      { 412: 'already-exists' },
    );
  }

  read(id: string): Promise<Claim | undefined> {
    return this.call('read', id, async (file) => {
      try {
        const [meta] = await file(id).getMetadata();
        return toClaim(id, meta);
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    });
  }

  delete(claim: Claim): Promise<void> {
    if (!/^\d+$/.test(claim.etag)) throw new MeshlinkError('internal', `not a Cloud Storage generation: ${JSON.stringify(claim.etag)}`);
    return this.call('delete', claim.id, async (file, _bucket, mayHaveApplied) => {
      try {
        await file(claim.id).delete({ ifGenerationMatch: claim.etag });
      } catch (err) {
        // Gone after our own earlier attempt: deleted, as asked.
        if (mayHaveApplied && statusOf(err) === 404) return;
        throw err;
      }
    });
  }

  /** Every object, page by page (the bucket holds claims only): a DELETE of what a stopped create left. */
  listOutsideStore(labels: Record<string, string>): Promise<Claim[]> {
    return this.call('list', undefined, async (_file, bucket) => {
      const found: Claim[] = [];
      let pageToken: string | undefined;
      do {
        const [files, next] = await bucket.getFiles({ autoPaginate: false, maxResults: 1000, ...(pageToken ? { pageToken } : {}) });
        for (const f of files) {
          const claim = toClaim(f.name, f.metadata);
          if (Object.entries(labels).every(([k, v]) => claim.labels[k] === v)) found.push(claim);
        }
        pageToken = (next as { pageToken?: string } | null)?.pageToken;
      } while (pageToken);
      return found;
    });
  }
}
