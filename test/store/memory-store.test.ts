// The in-memory store against the SecretStore contract.
import { manualClock } from '../support/clock.js';
import { InMemoryStore } from '../support/memory-store.js';
import { describeSecretStoreContract } from './contract.js';

describeSecretStoreContract('InMemoryStore', async () => {
  const clock = manualClock();
  return { store: new InMemoryStore({ clock }), advance: (ms) => clock.advance(ms) };
});
