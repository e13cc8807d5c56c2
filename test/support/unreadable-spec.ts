// Spoils a link's stored spec (its meshlink-spec annotation) so that reading it fails, as a
// corrupted store would: for tests of how a failing link is reported.
import { ANNOTATION_SPEC } from '../../shared/link/state.js';
import type { SecretStore } from '../../shared/store/port.js';

export async function makeSpecUnreadable(store: SecretStore, secretId: string): Promise<void> {
  const meta = await store.getSecret(secretId);
  await store.updateAnnotations(secretId, { ...meta.annotations, [ANNOTATION_SPEC]: '{' }, meta.etag);
}
