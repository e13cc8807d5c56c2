// How a failure reaches the user: one line with the API's message (and status), then one line per
// field path; never a stack trace.
import type { CliIO } from './context.js';
import { ApiError } from './http.js';
import { isMeshlinkError } from '../errors.js';

export function errorText(err: unknown, subject?: string): string {
  const prefix = subject ? `${subject}: ` : '';
  if (isMeshlinkError(err)) {
    const status = err instanceof ApiError ? ` (HTTP ${err.status})` : '';
    return [`error: ${prefix}${err.message}${status}`, ...err.details.map((d) => `  ${d.path}: ${d.message}`)].join('\n') + '\n';
  }
  const message = err instanceof Error ? err.message : String(err);
  return `error: ${prefix}${message.split('\n')[0]}\n`;
}

export function reportError(io: Pick<CliIO, 'stderr'>, err: unknown, subject?: string): void {
  io.stderr(errorText(err, subject));
}
