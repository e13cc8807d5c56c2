// What the rotation decision is made from: one plain object gathered from the link state (and,
// when a link is due, from its stored payloads). Pure: building facts from a state reads no store.
import { SIDES, type Side } from '../link/names.js';
import type { ForcedRotation, LinkState, RetiredVersion, RolloverPhase, RolloverProgress, SideSync, SyncStatus } from '../link/state.js';

export { SIDES };

export function peerOf(side: Side): Side {
  return side === 'server' ? 'client' : 'server';
}

export interface CaFacts {
  generation: number;
  version: string;
  notBefore: Date;
  notAfter: Date;
  renewAt: Date;
  /** Under an issuer: the roots it anchors to, the issuer's name and the issuing CA that signed it (rollover.ts IssuerChanged). */
  anchors?: string[];
  issuer?: string;
  issuing?: string;
}

/**
 * The issuer a link's CAs must be minted under now (the spec's), as last imported: fingerprints of
 * its issuing CA and root, and when its chain ends. Only `name` when the issuer was not read.
 */
export interface IssuerTarget {
  name: string;
  issuing?: string;
  root?: string;
  notAfter?: Date;
}

/** What only the stored payload tells (read when a link is due or forced). */
export interface LeafPayloadFacts {
  keyMatches: boolean;
  dnsNames: string[];
  uris: string[];
  /** Generations of the link's CAs the certificate verifies against. */
  issuedBy: number[];
  /** Generations of the link's CAs found in `ca.crt` (by fingerprint). */
  trust: number[];
  /** Certificates in `ca.crt` that are none of the link's CAs. */
  foreignTrust: number;
}

export interface LeafFacts {
  version: string;
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
  renewAt: Date;
  caGeneration: number;
  trust: number[];
  payload?: LeafPayloadFacts;
}

/** What a side's cluster Secret holds, as the state's sync record says. */
export interface ClusterFacts {
  status: SyncStatus;
  /** Store version projected into the cluster Secret; undefined if never synced. */
  version?: string;
  /** When the cluster Secret was last written (or the last failure). */
  at?: Date;
  /** Issuer generation of the certificate it presents, and the generations its ca.crt holds. */
  caGeneration?: number;
  trust?: number[];
}

export interface RotationFacts {
  host: string;
  /** The sides with a leaf and a cluster of ours: both, or one when a partner runs the other (`partner`). */
  sides: Side[];
  /** The side a partner runs: its trust is the partner's, so our side's ca.crt holds the partner's CAs, none of ours. */
  partner?: Side;
  /** URI SAN each side's certificate must carry. */
  identity: Record<Side, string>;
  /** The issuer the CAs must be under (absent: self-signed): a newest CA under another is rolled over. */
  issuer?: IssuerTarget;
  /** Oldest first. */
  cas: CaFacts[];
  signingGeneration: number;
  phase: RolloverPhase;
  phaseSince: Date;
  /** As recorded in the state (LinkState.rollover); rollover.ts derives what a state lacks. */
  rollover?: { generation: number; trustedAt?: Date; switchedAt?: Date };
  leaves: Partial<Record<Side, LeafFacts>>;
  clusters: Record<Side, ClusterFacts>;
  forced?: ForcedRotation;
  retired: RetiredVersion[];
  /** Places a spec update moved the link away from, not cleared yet: how many, and when clearing last failed. */
  stale?: { places: number; failedAt?: Date };
  /** The server leaf our gateway was last seen serving (the probe); absent when no probe reached it. */
  served?: { fingerprint: string; at: Date };
}

/** How to compute a renewal time from a validity window (the spec's renewBefore, or none). */
export type RenewAt = (notBefore: Date, notAfter: Date) => Date;

/** Far enough never to be reached: used when the caller decides renewal by other means. */
export const NEVER = new Date(8.64e15);

function clusterFacts(sync: SideSync, leaf: LinkState['leaves'][Side]): ClusterFacts {
  const facts: ClusterFacts = { status: sync.status };
  if (sync.version !== undefined) facts.version = sync.version;
  if (sync.at) facts.at = new Date(sync.at);
  // Records written before the sync kept issuer and trust: the leaf of the same version tells.
  const sameLeaf = leaf && leaf.version === sync.version ? leaf : undefined;
  const caGeneration = sync.caGeneration ?? sameLeaf?.caGeneration;
  const trust = sync.trust ?? sameLeaf?.trust;
  if (caGeneration !== undefined) facts.caGeneration = caGeneration;
  if (trust) facts.trust = [...trust];
  return facts;
}

function rolloverFacts(r: RolloverProgress): NonNullable<RotationFacts['rollover']> {
  return { generation: r.generation, ...(r.trustedAt ? { trustedAt: new Date(r.trustedAt) } : {}), ...(r.switchedAt ? { switchedAt: new Date(r.switchedAt) } : {}) };
}

/** Facts from the state alone (no payload). */
export function factsFromState(state: LinkState, identity: Record<Side, string>, renewAt: RenewAt, issuer?: IssuerTarget): RotationFacts {
  const cas = [...state.cas]
    .sort((a, b) => a.generation - b.generation)
    .map((ca) => {
      const notBefore = new Date(ca.notBefore);
      const notAfter = new Date(ca.notAfter);
      const origin = { ...(ca.anchors ? { anchors: [...ca.anchors] } : {}), ...(ca.issuer ? { issuer: ca.issuer } : {}), ...(ca.issuing ? { issuing: ca.issuing } : {}) };
      return { generation: ca.generation, version: ca.version, notBefore, notAfter, renewAt: renewAt(notBefore, notAfter), ...origin };
    });
  const leaves: RotationFacts['leaves'] = {};
  for (const side of SIDES) {
    const leaf = state.leaves[side];
    if (!leaf) continue;
    const notBefore = new Date(leaf.notBefore);
    const notAfter = new Date(leaf.notAfter);
    leaves[side] = {
      version: leaf.version,
      fingerprint: leaf.fingerprint,
      notBefore,
      notAfter,
      renewAt: renewAt(notBefore, notAfter),
      caGeneration: leaf.caGeneration,
      trust: [...leaf.trust],
    };
  }
  const partner = state.partner?.side;
  return {
    host: state.host,
    sides: SIDES.filter((side) => side !== partner),
    ...(partner ? { partner } : {}),
    identity,
    // The spec's issuer, as read (`issuer`, when it is that one), else by name only.
    ...(state.issuer ? { issuer: issuer?.name === state.issuer ? issuer : { name: state.issuer } } : {}),
    cas,
    signingGeneration: state.signingGeneration,
    phase: state.phase,
    phaseSince: new Date(state.phaseSince),
    ...(state.rollover ? { rollover: rolloverFacts(state.rollover) } : {}),
    leaves,
    clusters: { server: clusterFacts(state.sync.server, state.leaves.server), client: clusterFacts(state.sync.client, state.leaves.client) },
    ...(state.forced ? { forced: state.forced } : {}),
    retired: state.retired ?? [],
    ...(state.stale?.length ? { stale: { places: state.stale.length, ...(state.staleFailedAt ? { failedAt: new Date(state.staleFailedAt) } : {}) } } : {}),
    ...(state.probe?.served && !state.probe.partner ? { served: { fingerprint: state.probe.served.fingerprint, at: new Date(state.probe.at) } } : {}),
  };
}
