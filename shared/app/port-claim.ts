// A gateway port is a listener on the server cluster's ingress gateway: two links cannot share
// one. Each link holds a claim on its (server cluster, gateway port), a store secret created only
// if absent: checking costs one read however many links there are, and of two links created at
// once with the same port exactly one gets it.
import { createHash } from 'node:crypto';
import { isMeshlinkError, MeshlinkError } from '../errors.js';
import { STORE_LABEL_LINK, storeLabels } from '../link/names.js';
import type { SecretMetadata } from '../store/port.js';
import type { AppDeps } from './deps.js';
import { loadLink } from './link-record.js';

export interface GatewayPort {
  cluster: string;
  port: number;
}

const ANNOTATION_CLAIM = 'meshlink-claim';

/** One id per cluster and port: a digest, since cluster references hold `/` and `:`. */
export function portClaimId(secretPrefix: string, { cluster, port }: GatewayPort): string {
  const digest = createHash('sha256').update(`${cluster}\n${port}`).digest('hex').slice(0, 24);
  return `${secretPrefix}-port-${digest}`;
}

/** The claim secret's labels and annotations. */
export function portClaimMeta(link: string, at: GatewayPort) {
  return { labels: storeLabels(link, 'port-claim'), annotations: { [ANNOTATION_CLAIM]: JSON.stringify(at) } };
}

function taken(link: string, { cluster, port }: GatewayPort): MeshlinkError {
  return new MeshlinkError('invalid-argument', 'invalid link spec', {
    details: [{ path: 'server.gatewayPort', message: `port ${port} is already used by link ${link} on cluster ${cluster}` }],
  });
}

/**
 * Whether a claim another link holds still counts. A claim is made before the state that names
 * the port is saved (a new link's record, a port change), so a young claim counts whatever the
 * holder's state says; an older one counts only while the holder's state names that port. One
 * left by a link deleted or moved half-way (a crash between its steps) is then taken over.
 */
async function holds(deps: AppDeps, claim: SecretMetadata, holder: string, at: GatewayPort): Promise<boolean> {
  if (deps.clock().getTime() - Date.parse(claim.createTime) < deps.settings.leaseMs) return true;
  const record = await loadLink(deps, holder);
  return !!record && record.state.serverCluster === at.cluster && record.state.gatewayPort === at.port;
}

/** Makes sure `link` holds the claim on `at`: one read when it does; a 400 naming the holder when another link does. */
export async function claimGatewayPort(deps: AppDeps, link: string, at: GatewayPort): Promise<void> {
  const id = portClaimId(deps.settings.secretPrefix, at);
  for (let attempt = 0; attempt < 3; attempt++) {
    let claim: SecretMetadata | undefined;
    try {
      claim = await deps.store.getSecret(id);
    } catch (err) {
      if (!isMeshlinkError(err, 'not-found')) throw err;
    }
    if (!claim) {
      try {
        await deps.store.createSecret(id, portClaimMeta(link, at));
        return;
      } catch (err) {
        if (!isMeshlinkError(err, 'already-exists')) throw err;
        continue; // another link claimed it meanwhile: read who
      }
    }
    const holder = claim.labels[STORE_LABEL_LINK];
    if (holder === link) return;
    if (holder && (await holds(deps, claim, holder, at))) throw taken(holder, at);
    deps.log.info('taking over a gateway port claim its holder no longer uses', { link, holder, cluster: at.cluster, port: at.port });
    try {
      await deps.store.deleteSecret(id, claim.etag);
    } catch (err) {
      if (!isMeshlinkError(err, 'not-found') && !isMeshlinkError(err, 'conflict')) throw err;
    }
  }
  throw new MeshlinkError('conflict', `the claim on port ${at.port} of cluster ${at.cluster} changed hands while it was read; try again`);
}

/** Gives the claim up if `link` holds it (after a port change or on delete); idempotent. */
export async function releaseGatewayPort(deps: AppDeps, link: string, at: GatewayPort): Promise<void> {
  const id = portClaimId(deps.settings.secretPrefix, at);
  try {
    const claim = await deps.store.getSecret(id);
    if (claim.labels[STORE_LABEL_LINK] === link) await deps.store.deleteSecret(id, claim.etag);
  } catch (err) {
    if (!isMeshlinkError(err, 'not-found') && !isMeshlinkError(err, 'conflict')) throw err;
  }
}
