// `npm start`: the HTTP function served by functions-framework on PORT, on the embedded
// defaults (local file store and local cluster directories under MESHLINK_STATE_DIR), and the
// rotation sweep on a timer (MESHLINK_SWEEP_INTERVAL) with the in-process fan-out.
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { FUNCTION_NAMES } from './names.js';
import { runtimeConfig, runtimeDeps } from './runtime.js';
import { addLocalRoutes } from './index.js';
import { registrationRoutes } from './registration.js';
import { startSweepTimer } from './rotation.js';
import { InProcessRotationQueue } from '../shared/queue/in-process-rotation-queue.js';

// Production receives registration events through Pub/Sub; locally they are replayed over HTTP.
addLocalRoutes(registrationRoutes);

const config = runtimeConfig();
const deps = await runtimeDeps();
const server = getTestServer(FUNCTION_NAMES.api);
server.listen(config.port, () => {
  deps.log.info('meshlink listening', { port: config.port, store: config.store.kind, stateDir: config.stateDir });
});

const stopSweeps = config.sweepIntervalMs > 0 ? startSweepTimer(deps, new InProcessRotationQueue(deps), config.sweepIntervalMs) : () => {};
if (config.sweepIntervalMs > 0) deps.log.info('rotation sweep timer started', { intervalMs: config.sweepIntervalMs });

function shutdown(): void {
  stopSweeps();
  server.close(() => process.exit(0));
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
