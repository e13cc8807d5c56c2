// What every command gets: the process's streams and environment (injected, so tests run the
// CLI in process too), the time, the API client for the chosen server, and the exit code.
import type { Command } from 'commander';
import { ApiClient, ApiError } from './http.js';
import { CliError, failure } from './errors.js';
import type { ResourceKind } from './resources.js';
import { audienceOption, serverUrl, tokenSourceFor, type IdTokenMinter } from './server.js';

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  stdin(): Promise<string>;
  env: Record<string, string | undefined>;
  now(): Date;
  /** Mints identity tokens for Google serverless URLs (default: application default credentials). */
  mintIdToken?: IdTokenMinter;
}

export class CliContext {
  /** Set to 1 by a command whose outcome is a failure it already reported (a failed check). */
  exitCode = 0;
  private clientFor?: ApiClient;

  constructor(readonly io: CliIO) {}

  /** The API client for `--server` of this command line (or MESHLINK_SERVER, or the default). */
  client(command: Command): ApiClient {
    if (!this.clientFor) {
      const opts = command.optsWithGlobals() as { server?: string; audience?: string };
      const server = serverUrl(opts.server, this.io.env);
      this.clientFor = new ApiClient(server, tokenSourceFor(server, this.io.mintIdToken, audienceOption(opts.audience, this.io.env)));
    }
    return this.clientFor;
  }
}

/** A kind the server does not serve (its collection answers 404): one clear message. */
export class NotSupportedError extends CliError {
  constructor(readonly kind: ResourceKind) {
    super('failed', 'not-found', `${kind.plural} are not supported by this server (it answers 404 on /${kind.plural})`);
    this.name = 'NotSupportedError';
  }
}

/**
 * Runs a request about `kind`; a 404 on an optional kind is told apart: the collection itself
 * answering 404 means the server lacks the kind, otherwise the one object is missing.
 */
export async function aboutKind<T>(client: ApiClient, kind: ResourceKind, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404 || !kind.optional) throw err;
    const probe = await client.send('GET', `/${kind.plural}`);
    throw probe.status === 404 ? new NotSupportedError(kind) : err;
  }
}

/** Every object of a kind, as listed by its collection (`{"links": [...]}`). */
export async function listKind(client: ApiClient, kind: ResourceKind): Promise<Record<string, unknown>[]> {
  const answer = await aboutKind(client, kind, () => client.request('GET', `/${kind.plural}`));
  const items = (answer.body as Record<string, unknown> | undefined)?.[kind.plural];
  if (!Array.isArray(items)) throw failure('internal', `the server's answer to GET /${kind.plural} has no "${kind.plural}" list`);
  return items as Record<string, unknown>[];
}

export function objectPath(kind: ResourceKind, name: string): string {
  return `/${kind.plural}/${encodeURIComponent(name)}`;
}
