// Builders for pki tests: requests with sensible defaults and a minted link set (CA, server, client).
import type { Side } from '../../shared/link/names.js';
import type { KeyAlgorithm } from '../../shared/link/spec.js';
import { mintCa, mintLeaf } from '../../shared/pki/mint.js';
import type { CredentialPem, MintCaRequest, MintLeafRequest } from '../../shared/pki/types.js';

export const NOW = new Date('2026-01-01T00:00:00Z');
export const HOST = 'mysql.link.example.com';
export const LINK = 'mysql';
export const DAY_MS = 86_400_000;

export function caRequest(overrides: Partial<MintCaRequest> = {}): MintCaRequest {
  return { link: LINK, host: HOST, keyAlgorithm: 'ECDSA-P256', ttlMs: 365 * DAY_MS, now: NOW, generation: 1, ...overrides };
}

export function leafRequest(ca: CredentialPem, side: Side, overrides: Partial<Omit<MintLeafRequest, 'ca' | 'side'>> = {}): MintLeafRequest {
  return { ca, side, link: LINK, host: HOST, keyAlgorithm: 'ECDSA-P256', ttlMs: 30 * DAY_MS, now: NOW, ...overrides };
}

export interface LinkSet {
  ca: CredentialPem;
  server: CredentialPem;
  client: CredentialPem;
}

export async function mintLinkSet(keyAlgorithm: KeyAlgorithm = 'ECDSA-P256', overrides: { link?: string; host?: string; now?: Date } = {}): Promise<LinkSet> {
  const ca = await mintCa(caRequest({ keyAlgorithm, ...overrides }));
  const server = await mintLeaf(leafRequest(ca, 'server', { keyAlgorithm, ...overrides }));
  const client = await mintLeaf(leafRequest(ca, 'client', { keyAlgorithm, ...overrides }));
  return { ca, server, client };
}
