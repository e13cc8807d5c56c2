// Claims on what two links cannot share. A gateway port is a listener on the server cluster's
// ingress gateway; a host is one ServiceEntry, DestinationRule and VirtualService set on the
// client cluster (Istio does not merge two). Each link holds a claim on its (server cluster,
// gateway port) and on its (client cluster, host): a store secret created only if absent, so
// checking costs one read however many links there are, and of two links created at once with the
// same port or host exactly one gets it. Where claims are kept is the ClaimStore's
// (store/claims/port.ts): secrets of the store, or objects of a Cloud Storage bucket (deps.claims)
// with the claim secrets an older deployment made still honoured.
import { createHash } from 'node:crypto';
import { isMeshlinkError, MeshlinkError } from '../errors.js';
import { MANAGER, STORE_LABEL_LINK, STORE_LABEL_MANAGED_BY, storeLabels } from '../link/names.js';
import type { LinkState } from '../link/state.js';
import { secretClaims, withLegacyClaims, type Claim, type ClaimStore } from '../store/claims/port.js';
import type { AppDeps } from './deps.js';
import { loadLink } from './link-record.js';
import { halfCreated } from './creation-lease.js';
import { allSettled } from '../settle.js';

export interface GatewayPort {
  cluster: string;
  port: number;
}

export interface ClientHost {
  cluster: string;
  host: string;
}

const ANNOTATION_CLAIM = 'meshlink-claim';

interface ClaimKind<T> {
  role: 'port-claim' | 'host-claim';
  /** The claimed value as one string (digested into the secret id: references hold `/` and `:`). */
  key(at: T): string;
  prefix: string;
  /** Whether a holder's state still uses `at`. */
  uses(state: LinkState, at: T): boolean;
  taken(holder: string, at: T): MeshlinkError;
}

type ClaimState = Pick<LinkState, 'serverCluster' | 'gatewayPort' | 'clientCluster' | 'host' | 'partner'>;

/**
 * The gateway port a link's state holds: none when the partner runs the server (the state's
 * gatewayPort is then the partner's, on no cluster of ours).
 */
export function claimedPort(state: ClaimState): GatewayPort | undefined {
  return state.partner?.side === 'server' ? undefined : { cluster: state.serverCluster, port: state.gatewayPort };
}

/** The host a link's state holds on its client cluster: none when the partner runs the client. */
export function claimedHost(state: ClaimState): ClientHost | undefined {
  return state.partner?.side === 'client' ? undefined : { cluster: state.clientCluster, host: state.host };
}

const PORT: ClaimKind<GatewayPort> = {
  role: 'port-claim',
  prefix: 'port',
  key: ({ cluster, port }) => `${cluster}\n${port}`,
  uses: (state, at) => {
    const held = claimedPort(state);
    return !!held && held.cluster === at.cluster && held.port === at.port;
  },
  taken: (holder, { cluster, port }) =>
    new MeshlinkError('invalid-argument', 'invalid link spec', {
      details: [{ path: 'server.gatewayPort', message: `port ${port} is already used by link ${holder} on cluster ${cluster}` }],
    }),
};

const HOST: ClaimKind<ClientHost> = {
  role: 'host-claim',
  prefix: 'host',
  key: ({ cluster, host }) => `${cluster}\n${host}`,
  uses: (state, at) => {
    const held = claimedHost(state);
    return !!held && held.cluster === at.cluster && held.host === at.host;
  },
  taken: (holder, { cluster, host }) =>
    new MeshlinkError('conflict', `host ${host} is already used by link ${holder} on client cluster ${cluster}`, {
      details: [{ path: 'host', message: `is already used by link ${holder} on client cluster ${cluster} (one ServiceEntry per host)` }],
    }),
};

function claimId<T>(kind: ClaimKind<T>, secretPrefix: string, at: T): string {
  const digest = createHash('sha256').update(kind.key(at)).digest('hex').slice(0, 24);
  return `${secretPrefix}-${kind.prefix}-${digest}`;
}

function claimMeta<T>(kind: ClaimKind<T>, link: string, at: T) {
  return { labels: storeLabels(link, kind.role), annotations: { [ANNOTATION_CLAIM]: JSON.stringify(at) } };
}

/** One id per cluster and port. */
export function portClaimId(secretPrefix: string, at: GatewayPort): string {
  return claimId(PORT, secretPrefix, at);
}

/** The port claim secret's labels and annotations. */
export function portClaimMeta(link: string, at: GatewayPort) {
  return claimMeta(PORT, link, at);
}

/** One id per client cluster and host. */
export function hostClaimId(secretPrefix: string, at: ClientHost): string {
  return claimId(HOST, secretPrefix, at);
}

/** The host claim secret's labels and annotations. */
export function hostClaimMeta(link: string, at: ClientHost) {
  return claimMeta(HOST, link, at);
}

/** The claims: the bucket's, with the store's claim secrets as legacy, or the store's alone. */
function claimsOf(deps: AppDeps): ClaimStore {
  const secrets = secretClaims(deps.store);
  return deps.claims ? withLegacyClaims(deps.claims, secrets) : secrets;
}

/**
 * Whether a claim another link holds still counts. A claim is made before the state that names
 * the value is saved (a new link's record, a change), so a young claim counts whatever the
 * holder's state says; an older one counts only while the holder's state names that value (a
 * deleted link's tombstone still does). One left by a link deleted or moved half-way (a crash
 * between its steps) is then taken over.
 */
async function holds<T>(deps: AppDeps, kind: ClaimKind<T>, claim: Claim, holder: string, at: T): Promise<boolean> {
  if (deps.clock().getTime() - Date.parse(claim.createTime) < deps.settings.leaseMs) return true;
  // A holder whose create stopped before its record still holds what its creation names, until
  // the same POST completes it or DELETE removes it (creation-lease.ts): its objects may be there.
  const record = (await loadLink(deps, holder)) ?? (await halfCreated(deps, holder));
  return !!record && kind.uses(record.state, at);
}

/** Deletes a claim as it was read; one gone or made again since is not this call's to delete. */
async function dropClaim(claims: ClaimStore, held: Claim): Promise<void> {
  try {
    await claims.delete(held);
  } catch (err) {
    if (!isMeshlinkError(err, 'not-found') && !isMeshlinkError(err, 'conflict')) throw err;
  }
}

/** The claim, or undefined when nobody holds one. */
function readClaim<T>(deps: AppDeps, kind: ClaimKind<T>, at: T): Promise<Claim | undefined> {
  return claimsOf(deps).read(claimId(kind, deps.settings.secretPrefix, at));
}

/**
 * Makes sure `link` holds the claim on `at`: one read when it does (none when `first` is that
 * read, already made). True when this call took it.
 */
async function claim<T>(deps: AppDeps, kind: ClaimKind<T>, link: string, at: T, first?: { held: Claim | undefined }): Promise<boolean> {
  const claims = claimsOf(deps);
  const id = claimId(kind, deps.settings.secretPrefix, at);
  for (let attempt = 0; attempt < 3; attempt++) {
    const held = attempt === 0 && first ? first.held : await readClaim(deps, kind, at);
    if (!held) {
      try {
        await claims.create(id, claimMeta(kind, link, at));
        return true;
      } catch (err) {
        if (!isMeshlinkError(err, 'already-exists')) throw err;
        continue; // another link claimed it meanwhile: read who
      }
    }
    const holder = held.labels[STORE_LABEL_LINK];
    if (holder === link) return false;
    if (holder && (await holds(deps, kind, held, holder, at))) throw kind.taken(holder, at);
    deps.log.info(`taking over a ${kind.prefix} claim its holder no longer uses`, { link, holder, claim: kind.key(at).replace('\n', ' ') });
    await dropClaim(claims, held);
  }
  throw new MeshlinkError('conflict', `the claim on ${kind.prefix} ${kind.key(at).replace('\n', ' ')} changed hands while it was read; try again`);
}

/** A claim read and judged, not taken yet: throws when another link holds it. */
async function check<T>(deps: AppDeps, kind: ClaimKind<T>, link: string, at: T): Promise<{ held: Claim | undefined }> {
  const held = await readClaim(deps, kind, at);
  const holder = held?.labels[STORE_LABEL_LINK];
  if (held && holder && holder !== link && (await holds(deps, kind, held, holder, at))) throw kind.taken(holder, at);
  return { held };
}

/**
 * Makes sure `link` holds its host and its gateway port: both are read and judged at once before
 * either is taken, so a refusal writes nothing (one read each when the link holds them); then both
 * are taken at once (one wait on the store, not two). Should one be taken by another link meanwhile
 * or fail, the one this call took is given back once its own create is over (allSettled: a give-back
 * never races the create it undoes). A side the partner runs claims nothing: no host when it runs
 * the client, no port when it runs the server (undefined).
 */
export async function claimHostAndPort(deps: AppDeps, link: string, host: ClientHost | undefined, port: GatewayPort | undefined): Promise<void> {
  const [hostRead, portRead] = await allSettled([host && check(deps, HOST, link, host), port && check(deps, PORT, link, port)]);
  const [tookHost, tookPort] = await Promise.allSettled([
    !!host && claim(deps, HOST, link, host, hostRead),
    !!port && claim(deps, PORT, link, port, portRead),
  ]);
  const failed = [tookHost, tookPort].find((took): took is PromiseRejectedResult => took.status === 'rejected');
  if (!failed) return;
  const took = (result: PromiseSettledResult<boolean>) => result.status === 'fulfilled' && result.value;
  await allSettled([took(tookHost) && release(deps, HOST, link, host!), took(tookPort) && release(deps, PORT, link, port!)]);
  throw failed.reason;
}

/** Gives the claim up if `link` holds it; idempotent. */
async function release<T>(deps: AppDeps, kind: ClaimKind<T>, link: string, at: T): Promise<void> {
  const claims = claimsOf(deps);
  const held = await claims.read(claimId(kind, deps.settings.secretPrefix, at));
  if (held?.labels[STORE_LABEL_LINK] === link) await dropClaim(claims, held);
}

/** `link` holds the port (true: taken by this call), or a 400 naming the holder. */
export function claimGatewayPort(deps: AppDeps, link: string, at: GatewayPort): Promise<boolean> {
  return claim(deps, PORT, link, at);
}

/** Gives the port claim up (after a port change or on delete). */
export function releaseGatewayPort(deps: AppDeps, link: string, at: GatewayPort): Promise<void> {
  return release(deps, PORT, link, at);
}

/** Gives the host claim up (after a client cluster change or on delete). */
export function releaseHost(deps: AppDeps, link: string, at: ClientHost): Promise<void> {
  return release(deps, HOST, link, at);
}

/** The claims a link's state names, given up (its record is going); a partner's side holds none. */
export async function releaseClaims(deps: AppDeps, link: string, state: ClaimState): Promise<void> {
  const port = claimedPort(state);
  if (port) await releaseGatewayPort(deps, link, port);
  const host = claimedHost(state);
  if (host) await releaseHost(deps, link, host);
}

/**
 * Deletes the claims of `link` kept outside the store (a bucket), which a listing of the store by
 * its label does not find: what a create that stopped before its CA secret left. How many.
 */
export async function dropClaimsOutsideStore(deps: AppDeps, link: string): Promise<number> {
  if (!deps.claims) return 0;
  const left = await deps.claims.listOutsideStore({ [STORE_LABEL_MANAGED_BY]: MANAGER, [STORE_LABEL_LINK]: link });
  for (const claim of left) await dropClaim(deps.claims, claim);
  return left.length;
}
