// Child process of the sweep benchmark: the Secret Manager fake on loopback, in a process of its
// own so its memory and CPU are not counted as meshlink's. Sends its port over IPC; stops on 'stop'.
import { startFakeSecretManager } from '../fakes/secret-manager-server.js';

const fake = await startFakeSecretManager();
// The fake keeps every request for tests to inspect; a benchmark of 40,000 secrets does not need them.
setInterval(() => fake.requests.splice(0), 1000).unref();
process.send!({ port: fake.port, project: fake.project });
process.on('message', (message) => {
  if (message === 'calls') process.send!({ calls: { ...fake.calls } });
  if (message === 'stop') void fake.close().then(() => process.exit(0));
});
