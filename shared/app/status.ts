// The status a user sees for a link: names, clusters, expiry and rollover progress, never key
// material (invariant 4). Pure: built from the spec and the state.
import type { LinkSpec } from '../link/spec.js';
import { credentialName, type Side } from '../link/names.js';
import type { LinkState } from '../link/state.js';
import { renewalTime } from '../rotation/renewal.js';

export interface SideStatus {
  cluster: string;
  namespace: string;
  credentialName: string;
  notAfter?: string;
  renewAt?: string;
  fingerprint?: string;
  caGeneration?: number;
  trustedCaGenerations: number[];
  sync: LinkState['sync'][Side];
  address?: string;
}

export interface LinkStatus {
  name: string;
  host: string;
  protocol: LinkSpec['protocol'];
  phase: LinkState['phase'];
  ca: { generation: number; notAfter: string; fingerprint: string; signing: boolean }[];
  client: SideStatus;
  server: SideStatus;
  nextRenewal?: string;
  lastError?: string;
  createdAt: string;
  updatedAt: string;
  spec: unknown;
}

function sideStatus(spec: LinkSpec, state: LinkState, side: Side): SideStatus {
  const leaf = state.leaves[side];
  const gateway = side === 'client' ? spec.client.gateway : spec.server.gateway;
  const status: SideStatus = {
    cluster: side === 'client' ? spec.client.cluster : spec.server.cluster,
    namespace: gateway.namespace,
    credentialName: credentialName(spec.name, side),
    trustedCaGenerations: leaf?.trust ?? [],
    sync: state.sync[side],
  };
  if (leaf) {
    status.notAfter = leaf.notAfter;
    status.renewAt = renewalTime(new Date(leaf.notBefore), new Date(leaf.notAfter), spec.certificates.renewBefore).toISOString();
    status.fingerprint = leaf.fingerprint;
    status.caGeneration = leaf.caGeneration;
  }
  if (side === 'server') {
    const address = spec.server.address ?? state.sync.server.address;
    if (address) status.address = address;
  }
  return status;
}

export function linkStatus(spec: LinkSpec, specDoc: unknown, state: LinkState): LinkStatus {
  return {
    name: spec.name,
    host: spec.host,
    protocol: spec.protocol,
    phase: state.phase,
    ca: state.cas.map((ca) => ({ generation: ca.generation, notAfter: ca.notAfter, fingerprint: ca.fingerprint, signing: ca.generation === state.signingGeneration })),
    client: sideStatus(spec, state, 'client'),
    server: sideStatus(spec, state, 'server'),
    ...(state.nextRenewal ? { nextRenewal: state.nextRenewal } : {}),
    ...(state.lastError ? { lastError: state.lastError } : {}),
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    spec: specDoc,
  };
}
