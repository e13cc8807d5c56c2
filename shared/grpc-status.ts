// gRPC statuses of the Google client libraries, and their one translation into MeshlinkError
// codes, shared by the gRPC adapters (Secret Manager, CA Service).
import { Status } from '@grpc/grpc-js/build/src/constants.js';
import { MeshlinkError, type ErrorCode } from './errors.js';

/**
 * gRPC status codes: grpc-js's `Status` enum, from the module that defines it (the package's index
 * loads all of grpc-js, which the clients load on their first call anyway: not at a cold start).
 */
export const GRPC = Status;

const CODE_OF_STATUS: Partial<Record<number, ErrorCode>> = {
  [GRPC.NOT_FOUND]: 'not-found',
  [GRPC.ALREADY_EXISTS]: 'already-exists',
  [GRPC.FAILED_PRECONDITION]: 'conflict',
  [GRPC.ABORTED]: 'conflict',
  [GRPC.PERMISSION_DENIED]: 'permission-denied',
  [GRPC.UNAUTHENTICATED]: 'permission-denied',
  [GRPC.UNAVAILABLE]: 'unavailable',
  [GRPC.DEADLINE_EXCEEDED]: 'unavailable',
  [GRPC.RESOURCE_EXHAUSTED]: 'unavailable',
  [GRPC.INTERNAL]: 'unavailable',
  [GRPC.INVALID_ARGUMENT]: 'invalid-argument',
};

// A numeric TypeScript enum maps each code back to its name.
const STATUS_NAME = Status as unknown as Record<number, string>;

export function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * A client error as a MeshlinkError: `service` and `subject` name the API and the resource (never
 * a payload); `overrides` re-reads a status where the call gives it another meaning.
 */
export function translateGrpcError(service: string, err: unknown, subject: string, overrides: Partial<Record<number, ErrorCode>> = {}): MeshlinkError {
  if (err instanceof MeshlinkError) return err;
  const status = grpcCode(err);
  const code = (status !== undefined && (overrides[status] ?? CODE_OF_STATUS[status])) || 'internal';
  const detail = (err as { details?: unknown } | null)?.details;
  const reason = status === undefined ? String((err as Error | null)?.message ?? err) : `${STATUS_NAME[status] ?? status}${typeof detail === 'string' && detail ? `: ${detail}` : ''}`;
  return new MeshlinkError(code, `${service}: ${subject}: ${reason}`, { cause: err });
}
