// Which server the CLI talks to and how it proves who it is: `--server`, else MESHLINK_SERVER,
// else the local default; a Cloud Functions or Cloud Run URL gets a Google identity token from
// application default credentials, for the audience that URL's service checks.
import type { GoogleAuthOptions } from 'google-auth-library';
import type { TokenSource } from './http.js';
import { usageError } from './errors.js';

export const DEFAULT_SERVER = 'http://localhost:8080';

/** `--audience`, else MESHLINK_AUDIENCE: must be an https URL (what Google's identity tokens name). */
export function audienceOption(flag: string | undefined, env: Record<string, string | undefined>): string | undefined {
  const raw = flag ?? env.MESHLINK_AUDIENCE;
  if (raw === undefined || raw === '') return undefined;
  if (!/^https:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(raw)) throw usageError(`--audience: ${raw} is not an https:// URL`);
  return raw.replace(/\/$/, '');
}

export function serverUrl(flag: string | undefined, env: Record<string, string | undefined>): URL {
  const raw = flag ?? env.MESHLINK_SERVER ?? DEFAULT_SERVER;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`--server: ${raw} is not a URL (e.g. ${DEFAULT_SERVER})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--server: ${raw} is not an http:// or https:// URL`);
  if (url.search || url.hash) throw usageError(`--server: ${raw} has a query or fragment; give the API's base URL`);
  return url;
}

/**
 * The identity token audience for a Google serverless URL, or undefined for any other server.
 * Cloud Functions (`https://REGION-PROJECT.cloudfunctions.net/FUNCTION`) checks the function's
 * URL; Cloud Run (`https://SERVICE-HASH-REGION.a.run.app`, also a 2nd gen function's own URL)
 * checks the service's origin.
 */
export function identityTokenAudience(server: URL): string | undefined {
  if (server.protocol !== 'https:') return undefined;
  const host = server.hostname.toLowerCase();
  if (host.endsWith('.cloudfunctions.net')) {
    const fn = server.pathname.split('/').find((s) => s !== '');
    return fn ? `${server.origin}/${fn}` : server.origin;
  }
  if (host.endsWith('.run.app')) return server.origin;
  return undefined;
}

/** Mints identity tokens for an audience (google-auth-library's ID token client in production). */
export type IdTokenMinter = (audience: string) => Promise<string>;

/**
 * Application default credentials' ID token client (loaded only when a serverless URL needs it).
 * `options` is a test seam (a transporter that answers the token endpoint).
 */
export function googleIdToken(options?: GoogleAuthOptions): IdTokenMinter {
  return async (audience) => {
    const { GoogleAuth } = await import('google-auth-library');
    const client = await new GoogleAuth(options).getIdTokenClient(audience);
    return client.idTokenProvider.fetchIdToken(audience);
  };
}

/**
 * The token source for a server: a bearer identity token for Google serverless URLs (or for the
 * audience given: a custom domain or load balancer in front of Cloud Run still checks the
 * service's own URL), nothing otherwise.
 */
export function tokenSourceFor(server: URL, mint: IdTokenMinter = googleIdToken(), audienceFlag?: string): TokenSource {
  if (audienceFlag && server.protocol !== 'https:') throw usageError(`--audience: an identity token is sent over https only, not to ${server.origin}`);
  const audience = audienceFlag ?? identityTokenAudience(server);
  if (!audience) return async () => undefined;
  let token: Promise<string> | undefined;
  return async () => `Bearer ${await (token ??= mint(audience))}`;
}
