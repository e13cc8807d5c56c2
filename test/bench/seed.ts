// Seeding many links without minting them: a real link's state (from applyLink) re-timed and
// renamed per link, written straight to the store as its link secret (labels, state and spec
// annotations, exactly as applyLink leaves them) plus its three empty role secrets (ca, server, client) and its
// gateway port claim, so listings see the same number of secrets as with real links.
import { hostClaimId, hostClaimMeta, portClaimId, portClaimMeta } from '../../shared/app/port-claim.js';
import { applyLink } from '../../shared/app/provision.js';
import type { AppDeps } from '../../shared/app/deps.js';
import { ANNOTATION_SPEC, decodeState, encodeState, type LinkState } from '../../shared/link/state.js';
import { parseLinkSpec, specDocument } from '../../shared/link/spec.js';
import { storeLabels, storeSecretId, type StoreRole } from '../../shared/link/names.js';
import { BACKDATE_MS } from '../../shared/pki/types.js';
import { nextRenewal } from '../../shared/rotation/renewal.js';
import type { SecretStore } from '../../shared/store/port.js';
import { testApp } from '../support/app.js';
import { concurrent } from './stats.js';

export const DAY = 86_400_000;
/** The embedded defaults' lifetimes (README: leafTtl 30d, caTtl 365d). */
export const LEAF_TTL_MS = 30 * DAY;
export const CA_TTL_MS = 365 * DAY;
const ROLES: readonly StoreRole[] = ['ca', 'server', 'client'];
/** Links per synthetic server cluster: gateway ports stay unique per cluster, as applyLink requires. */
const LINKS_PER_SERVER_CLUSTER = 40_000;

/** A link spec of the embedded defaults; `i` makes name, host and gateway port distinct. */
export function benchSpec(i: number, prefix = 'bench'): Record<string, unknown> {
  const name = `${prefix}-${i}`;
  return {
    name,
    host: `${name}.link.example.com`,
    client: { cluster: 'bench-client', port: 3306 },
    server: { cluster: 'bench-server', service: 'mysql.default.svc.cluster.local', port: 3306, gatewayPort: 20_000 + (i % 40_000) },
  };
}

/** The state a real link has after POST /links, read back from its store secret. */
export async function realLinkState(): Promise<LinkState> {
  const app = testApp({ start: new Date().toISOString() });
  await applyLink(app.deps, benchSpec(0, 'template'));
  const meta = await app.store.getSecret(storeSecretId(app.deps.settings.secretPrefix, 'template-0', 'link'));
  return decodeState(meta.annotations, meta.id)!;
}

/** The template's state for another link, its certificates issued at `issuedAt` with the default lifetimes. */
export function syntheticState(template: LinkState, i: number, issuedAt: Date, prefix = 'synthetic'): { name: string; state: LinkState } {
  const name = `${prefix}-${i}`;
  const at = issuedAt.getTime();
  const notBefore = new Date(at - BACKDATE_MS).toISOString();
  const iso = issuedAt.toISOString();
  const base: LinkState = {
    ...structuredClone(template),
    host: `${name}.link.example.com`,
    serverCluster: `bench-server-${Math.floor(i / LINKS_PER_SERVER_CLUSTER)}`,
    gatewayPort: 20_000 + (i % LINKS_PER_SERVER_CLUSTER),
    cas: template.cas.map((ca) => ({ ...ca, notBefore, notAfter: new Date(at + CA_TTL_MS).toISOString() })),
    leaves: Object.fromEntries(
      Object.entries(template.leaves).map(([side, leaf]) => [side, { ...leaf!, notBefore, notAfter: new Date(at + LEAF_TTL_MS).toISOString() }]),
    ),
    phaseSince: iso,
    createdAt: iso,
    updatedAt: iso,
  };
  const { nextRenewal: _old, lease: _lease, ...rest } = base;
  const renewal = nextRenewal(rest);
  return { name, state: { ...rest, ...(renewal ? { nextRenewal: renewal.toISOString() } : {}) } };
}

let specTemplate: ReturnType<typeof specDocument> | undefined;

/** The spec annotation applyLink would leave for a synthetic link (a bench spec with the state's places; parsed once). */
function syntheticSpec(name: string, state: LinkState): string {
  specTemplate ??= specDocument(parseLinkSpec(benchSpec(0, 'synthetic')));
  const t = specTemplate as Record<string, any>;
  return JSON.stringify({ ...t, name, host: state.host, server: { ...t.server, cluster: state.serverCluster, gatewayPort: state.gatewayPort } });
}

/** What seeding needs: a store, or the Secret Manager fake written to directly. */
export interface SecretCreator {
  createSecret(id: string, meta: Parameters<SecretStore['createSecret']>[1]): Promise<unknown>;
}

/** Writes `count` synthetic links (six secrets each: record, CA, two leaves, port and host claims) with a bounded number of calls in flight. */
export async function seedSyntheticLinks(
  store: SecretCreator,
  options: { count: number; template: LinkState; issuedAt: Date; secretPrefix?: string; concurrency?: number; first?: number },
): Promise<void> {
  const prefix = options.secretPrefix ?? 'meshlink';
  const first = options.first ?? 0;
  await concurrent(options.count, options.concurrency ?? 16, async (k) => {
    const { name, state } = syntheticState(options.template, first + k, options.issuedAt);
    await store.createSecret(storeSecretId(prefix, name, 'link'), { labels: storeLabels(name, 'link'), annotations: { ...encodeState(state), [ANNOTATION_SPEC]: syntheticSpec(name, state) } });
    for (const role of ROLES) await store.createSecret(storeSecretId(prefix, name, role), { labels: storeLabels(name, role), annotations: {} });
    const port = { cluster: state.serverCluster, port: state.gatewayPort };
    await store.createSecret(portClaimId(prefix, port), portClaimMeta(name, port));
    const host = { cluster: state.clientCluster, host: state.host };
    await store.createSecret(hostClaimId(prefix, host), hostClaimMeta(name, host));
  });
}

/** Creates real links (minted, stored, synced) through applyLink, `concurrency` at a time. */
export async function createRealLinks(deps: AppDeps, count: number, prefix: string, concurrency = 4): Promise<void> {
  await concurrent(count, concurrency, async (i) => {
    await applyLink(deps, benchSpec(i, prefix));
  });
}
