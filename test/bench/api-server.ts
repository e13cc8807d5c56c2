// Child process of the create benchmark: meshlink's HTTP function served by functions-framework
// (getTestServer on the registered function, as `npm start` does) on the embedded defaults from
// the environment, with the store and clusters wrapped in counters the parent reads over IPC.
import type { AddressInfo } from 'node:net';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import '../../functions/index.js';
import { FUNCTION_NAMES } from '../../functions/names.js';
import { runtimeDeps, setRuntimeDeps } from '../../functions/runtime.js';
import { CountingStore } from '../support/counting-store.js';
import { CountingClusters } from './counting-clusters.js';

export interface ServerCounters {
  store: { listPages: number; payloadReads: number; metadataReads: number; writes: number };
  clusters: ReturnType<CountingClusters['counts']>;
}

const base = await runtimeDeps();
const store = new CountingStore(base.store);
const clusters = new CountingClusters(base.clusters);
setRuntimeDeps({ ...base, store, clusters });

const server = getTestServer(FUNCTION_NAMES.api);
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));

process.on('message', (message) => {
  if (message === 'counters') {
    const counters: ServerCounters = {
      store: { listPages: store.listPages, payloadReads: store.payloadReads, metadataReads: store.metadataReads, writes: store.writes },
      clusters: clusters.counts(),
    };
    process.send!({ counters });
  } else if (message === 'reset') {
    store.reset();
    clusters.reset();
    process.send!({ reset: true });
  } else if (message === 'stop') {
    server.close(() => process.exit(0));
  }
});
