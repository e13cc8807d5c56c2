// MESHLINK_CLAIMS_BUCKET: the Cloud Storage bucket that holds the claims of a Secret Manager
// deployment; a name Cloud Storage would refuse, or the local store, fails at start naming it.
import { describe, expect, it } from 'vitest';
import { CloudStorageClaims } from '../../shared/store/claims/cloud-storage-claims.js';
import { composeApp } from '../../shared/compose.js';
import { parseConfig } from '../../shared/config.js';

const SM = { MESHLINK_STORE: 'secret-manager', MESHLINK_PROJECT: 'p', MESHLINK_STATE_DIR: '/tmp/meshlink-claims-bucket-test' };
const refusal = () => expect.objectContaining({ code: 'invalid-argument', details: [{ path: 'MESHLINK_CLAIMS_BUCKET', message: expect.any(String) }] });

describe('MESHLINK_CLAIMS_BUCKET', () => {
  it('names the bucket of a Secret Manager deployment', () => {
    expect(parseConfig({ ...SM, MESHLINK_CLAIMS_BUCKET: 'p-meshlink-claims' }).store).toMatchObject({ kind: 'secret-manager', claimsBucket: 'p-meshlink-claims' });
    expect(parseConfig(SM).store).not.toHaveProperty('claimsBucket');
  });

  it.each(['gs://p-claims', 'P-Claims', 'ab', 'claims-', 'goog-claims', 'a'.repeat(64)])('refuses %s', (name) => {
    const env = { ...SM, MESHLINK_CLAIMS_BUCKET: name };
    expect(() => parseConfig(env)).toThrow(refusal());
  });

  it('is refused with the local store, which keeps its claims as files', () => {
    const env = { MESHLINK_CLAIMS_BUCKET: 'p-claims' };
    expect(() => parseConfig(env)).toThrow(refusal());
  });

  it('gives the use-cases claims in the bucket, and none without it (claims are then secrets)', async () => {
    const withBucket = await composeApp(parseConfig({ ...SM, MESHLINK_CLAIMS_BUCKET: 'p-claims' }), { workerId: 'w' });
    expect(withBucket.claims).toBeInstanceOf(CloudStorageClaims);
    expect((await composeApp(parseConfig(SM), { workerId: 'w' })).claims).toBeUndefined();
  });
});
