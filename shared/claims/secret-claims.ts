// Claims as secrets of the SecretStore (no payload; the holder in a label): the default, and the
// claims a deployment made before it had a bucket (port.ts withLegacyClaims).
import { isMeshlinkError } from '../errors.js';
import type { SecretStore } from '../store/port.js';
import type { ClaimStore } from './port.js';

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
