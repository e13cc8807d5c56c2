// Where an issuer of type secretManager is read from: the composition gives the Secret Manager
// adapter as the reader of the organisation's secrets, and none for the local store, whose
// stand-in reads its own secret of the same id.
import { describe, expect, it } from 'vitest';
import { composeApp } from '../../shared/compose.js';
import { parseConfig } from '../../shared/config.js';
import { InMemoryStore } from '../support/memory-store.js';
import { sameStoreForeignSecrets } from '../../shared/store/port.js';
import { startFakeSecretManager } from '../fakes/secret-manager-server.js';

describe('the reader of foreign secrets', () => {
  it('is the Secret Manager adapter when the store is Secret Manager', async () => {
    const fake = await startFakeSecretManager();
    try {
      const deps = await composeApp(
        parseConfig({ MESHLINK_STORE: 'secret-manager', MESHLINK_PROJECT: fake.project, MESHLINK_SECRET_MANAGER_ENDPOINT: `plaintext://127.0.0.1:${fake.port}`, MESHLINK_STATE_DIR: '/tmp/meshlink-foreign-test' }),
        { workerId: 'w' },
      );
      await deps.store.createSecret('org-bundle', { labels: {}, annotations: {} });
      await deps.store.addVersion('org-bundle', new TextEncoder().encode('pem'));
      const read = await deps.foreignSecrets!.readForeignSecret(`projects/${fake.project}/secrets/org-bundle`);
      expect(new TextDecoder().decode(read.payload)).toBe('pem');
      await (deps.store as unknown as { close(): Promise<void> }).close();
    } finally {
      await fake.close();
    }
  });

  it('is absent for the local store; the stand-in reads the store\'s own secret of that id', async () => {
    const deps = await composeApp(parseConfig({ MESHLINK_STATE_DIR: '/tmp/meshlink-foreign-test' }), { workerId: 'w' });
    expect(deps.foreignSecrets).toBeUndefined();
    const store = new InMemoryStore();
    await store.createSecret('org-bundle', { labels: {}, annotations: {} });
    await store.addVersion('org-bundle', new TextEncoder().encode('pem'));
    expect(new TextDecoder().decode((await sameStoreForeignSecrets(store).readForeignSecret('projects/any/secrets/org-bundle')).payload)).toBe('pem');
    expect(() => sameStoreForeignSecrets(store).readForeignSecret('org-bundle')).toThrow(/not a secret resource name/);
  });
});
