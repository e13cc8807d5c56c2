// The CLI's failures and their exit codes: 2 for a usage error (the command line itself is
// wrong), 1 for a failed operation (the API refused, a file is bad, the server is unreachable).
import { MeshlinkError, type ErrorCode, type ErrorDetail } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export type CliFailure = 'usage' | 'failed';

export class CliError extends MeshlinkError {
  constructor(
    readonly failure: CliFailure,
    code: ErrorCode,
    message: string,
    details: ErrorDetail[] = [],
  ) {
    super(code, message, { details });
    this.name = 'CliError';
  }

  get exitCode(): number {
    return this.failure === 'usage' ? EXIT_USAGE : EXIT_FAILED;
  }
}

/** The command line is wrong: exit code 2. */
export function usageError(message: string): CliError {
  return new CliError('usage', 'invalid-argument', message);
}

/** An operation failed: exit code 1. */
export function failure(code: ErrorCode, message: string, details: ErrorDetail[] = []): CliError {
  return new CliError('failed', code, message, details);
}
