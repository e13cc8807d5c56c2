// Child process of the sweep benchmark: the Secret Manager fake on loopback, in a process of its
// own so its memory and CPU are not counted as meshlink's. Sends its port over IPC; seeds
// synthetic links straight into the fake on request (100,000 links through gRPC would take
// minutes of seeding for seconds of sweep); stops on 'stop'.
import type { LinkState } from '../../shared/link/state.js';
import { startFakeSecretManager } from '../fakes/secret-manager-server.js';
import { seedSyntheticLinks } from './seed.js';

export interface SeedRequest {
  seed: { count: number; template: LinkState; issuedAtMs: number; first: number };
}

const fake = await startFakeSecretManager();
// The fake keeps every request for tests to inspect; a benchmark of 400,000 secrets does not need them.
setInterval(() => fake.requests.splice(0), 1000).unref();
process.send!({ port: fake.port, project: fake.project });
process.on('message', (message: 'stop' | SeedRequest) => {
  if (message === 'stop') void fake.close().then(() => process.exit(0));
  else if (typeof message === 'object' && 'seed' in message) {
    const { count, template, issuedAtMs, first } = message.seed;
    const direct = { createSecret: async (id: string, meta: Parameters<typeof fake.seedSecret>[1]) => fake.seedSecret(id, meta) };
    void seedSyntheticLinks(direct, { count, template, issuedAt: new Date(issuedAtMs), first, concurrency: 1 }).then(() => process.send!({ seeded: count }));
  }
});
