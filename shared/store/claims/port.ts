// The ClaimStore port: where a link's claims on what two links cannot share (a gateway port, a
// host: app/port-claim.ts) are kept. A claim is made only if absent, read, and deleted only while
// it is the one read, so of two links claiming at once exactly one wins, and a takeover never
// deletes a claim made since. Adapters: secrets of the SecretStore (secretClaims below, the
// default), objects in a Cloud Storage bucket (cloud-storage-claims.ts). Errors as SecretStore's.
import { isMeshlinkError } from '../../errors.js';
import type { SecretStore } from '../port.js';

export interface Claim {
  id: string;
  /** The labels and annotations it was made with, in one map (their keys differ). */
  labels: Record<string, string>;
  /** RFC 3339: when it was made (a young claim counts whatever its holder's state says). */
  createTime: string;
  /** Opaque: the precondition of its delete. */
  etag: string;
  /** Set by withLegacyClaims: a claim secret made before the claims moved out of the store. */
  legacySecret?: true;
}

export interface ClaimStore {
  /** Makes the claim if no claim has the id; `already-exists` otherwise. */
  create(id: string, meta: { labels: Record<string, string>; annotations: Record<string, string> }): Promise<void>;
  /** The claim, or undefined when there is none. */
  read(id: string): Promise<Claim | undefined>;
  /** Deletes the claim as read: `conflict` when it was made again since, `not-found` when gone. */
  delete(claim: Claim): Promise<void>;
  /**
   * Claims with all of `labels` that a SecretStore listing by label does not find (held outside
   * it): none for claim secrets. A DELETE of a create that stopped before its CA secret needs them.
   */
  listOutsideStore(labels: Record<string, string>): Promise<Claim[]>;
}

/**
 * Claims in `primary`, and the claim secrets of a deployment that kept them in the store before
 * (`legacy`): a claim absent from `primary` is looked up there (one more read), so an older claim
 * still counts, and a legacy claim is deleted where it is. New claims go to `primary` only.
 */
export function withLegacyClaims(primary: ClaimStore, legacy: ClaimStore): ClaimStore {
  return {
    create: (id, meta) => primary.create(id, meta),
    read: async (id) => {
      const held = await primary.read(id);
      if (held) return held;
      const old = await legacy.read(id);
      return old && { ...old, legacySecret: true };
    },
    delete: (claim) => (claim.legacySecret ? legacy.delete(claim) : primary.delete(claim)),
    listOutsideStore: (labels) => primary.listOutsideStore(labels),
  };
}

/**
 * Claims as secrets of the SecretStore (no payload; the holder in a label): the default, and the
 * claims a deployment made before it had a bucket (withLegacyClaims).
 */
export function secretClaims(store: SecretStore): ClaimStore {
  return {
    create: async (id, meta) => {
      await store.createSecret(id, meta);
    },
    read: async (id) => {
      try {
        const { labels, annotations, createTime, etag } = await store.getSecret(id);
        return { id, labels: { ...annotations, ...labels }, createTime, etag };
      } catch (err) {
        if (isMeshlinkError(err, 'not-found')) return undefined;
        throw err;
      }
    },
    delete: (claim) => store.deleteSecret(claim.id, claim.etag),
    // A listing of the store by label finds them.
    listOutsideStore: async () => [],
  };
}
