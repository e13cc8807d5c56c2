// One error class for the whole service: callers branch on `code`, never on message text.

export type ErrorCode =
  | 'invalid-argument' // bad input: HTTP 400, never retried
  | 'not-found' // HTTP 404
  | 'already-exists' // create of something that exists
  | 'conflict' // a precondition (etag, resourceVersion, host change) failed: HTTP 409
  | 'permission-denied' // credentials missing or refused: HTTP 403, not retried
  | 'unavailable' // transient: retry with backoff (HTTP 503, Pub/Sub redelivers)
  | 'payload-too-large' // HTTP 413
  | 'unsupported-media-type' // HTTP 415
  | 'internal'; // a bug or an unexpected answer

export interface ErrorDetail {
  /** Dotted path of the offending field, e.g. `server.gatewayPort`. */
  path: string;
  message: string;
}

export class MeshlinkError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[];
  /** For `unavailable`: when a retry has a chance (HTTP Retry-After), if the adapter knows. */
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: { details?: ErrorDetail[]; cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MeshlinkError';
    this.code = code;
    this.details = options.details ?? [];
    this.retryAfterMs = options.retryAfterMs;
  }

  /** Transient failures are worth retrying (HTTP 503, Pub/Sub redelivery). */
  get retryable(): boolean {
    return this.code === 'unavailable';
  }
}

export function isMeshlinkError(err: unknown, code?: ErrorCode): err is MeshlinkError {
  return err instanceof MeshlinkError && (code === undefined || err.code === code);
}
