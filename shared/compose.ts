// The composition root: configuration -> adapters -> AppDeps. The only place that picks
// implementations. SDK-backed adapters are imported on demand, so a local run and a cold
// start load only what they use.
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { DEFAULT_SETTINGS, type AppDeps } from './app/deps.js';
import { createLogger, type Logger } from './log.js';
import type { ForeignSecretReader, SecretStore } from './store/port.js';
import { KubernetesClusterResolver } from './clusters/resolver.js';
import { parseClusterRef } from './link/cluster-ref.js';
import type { ClusterResolver } from './clusters/port.js';
import type { Prober } from './probe/port.js';
import { MeshlinkError } from './errors.js';
import type { RotationQueue } from './queue/port.js';
import type { CertificateAuthorityService } from './cas/port.js';
import type { ClaimStore } from './store/claims/port.js';

async function makeStore(config: Config): Promise<SecretStore & Partial<ForeignSecretReader>> {
  if (config.store.kind === 'local') {
    const { LocalFileStore } = await import('./store/local-file-store.js');
    return new LocalFileStore(config.store.dir);
  }
  const { SecretManagerStore } = await import('./store/secret-manager-store.js');
  const { project, location, endpoint, retryMs } = config.store;
  return new SecretManagerStore({
    project,
    retry: { totalMs: retryMs },
    ...(location ? { location } : {}),
    ...(endpoint ? { apiEndpoint: endpoint.host, port: endpoint.port, plaintext: endpoint.plaintext } : {}),
  });
}

/**
 * Claims in a Cloud Storage bucket (MESHLINK_CLAIMS_BUCKET), backing off as the store does; the
 * storage library is loaded on the first claim read. None: claims are secrets of the store.
 */
async function makeClaims(config: Config): Promise<ClaimStore | undefined> {
  if (config.store.kind !== 'secret-manager' || !config.store.claimsBucket) return undefined;
  const { CloudStorageClaims } = await import('./store/claims/cloud-storage-claims.js');
  return new CloudStorageClaims({ bucket: config.store.claimsBucket, retry: { totalMs: config.store.retryMs } });
}

/** The probe dials with node:tls; MESHLINK_PROBE=off only stops the sweep's probes (POST :probe still runs when asked). */
async function makeProber(): Promise<Prober> {
  const { TlsProber } = await import('./probe/tls-probe.js');
  return new TlsProber();
}

/** Refuses references of a kind the deployment was not given access to (MESHLINK_CLUSTER_ACCESS). */
function restrictClusterAccess(inner: ClusterResolver, allowed: Config['clusterAccess']): ClusterResolver {
  if (!allowed) return inner;
  return {
    target(cluster) {
      const ref = parseClusterRef(cluster);
      if (ref.kind !== 'local' && !allowed.includes(ref.kind)) {
        // invalid-argument, not permission-denied: no retry or grant can make this deployment reach
        // it, so a spec naming it is refused (400) and a delete gives its places up.
        throw new MeshlinkError('invalid-argument', `cluster ${cluster}: access to ${ref.kind} clusters is not enabled in this deployment (MESHLINK_CLUSTER_ACCESS=${allowed.join(',')})`);
      }
      return inner.target(cluster);
    },
  };
}

/** Google CA Service (issuers of type cas): the client is loaded and connected on first use only. */
async function makeCas(config: Config): Promise<CertificateAuthorityService> {
  const { PrivateCaService } = await import('./cas/private-ca-service.js');
  const endpoint = config.casEndpoint;
  return new PrivateCaService(endpoint ? { apiEndpoint: endpoint.host, port: endpoint.port, plaintext: endpoint.plaintext } : {});
}

export async function composeApp(config: Config, options: { workerId: string; clock?: Clock; log?: Logger }): Promise<AppDeps> {
  // Each adapter's module is loaded now, on the first invocation: all at once, not one after another.
  const [store, claims, cas, prober] = await Promise.all([makeStore(config), makeClaims(config), makeCas(config), makeProber()]);
  return {
    store,
    ...(claims ? { claims } : {}),
    // Secret Manager reads the organisation's secrets itself; the local store stands in for them.
    ...(store.readForeignSecret ? { foreignSecrets: { readForeignSecret: store.readForeignSecret.bind(store) } } : {}),
    cas,
    clusters: restrictClusterAccess(
      new KubernetesClusterResolver({
        stateDir: config.stateDir,
        credentials: {
          connectGateway: { projectNumbers: config.projectNumbers, ...(config.connectGatewayEndpoint ? { endpoint: config.connectGatewayEndpoint } : {}) },
        },
      }),
      config.clusterAccess,
    ),
    prober,
    clock: options.clock ?? systemClock,
    log: options.log ?? createLogger({ minSeverity: config.logLevel }),
    settings: { ...DEFAULT_SETTINGS, ...config.rotation, secretPrefix: config.secretPrefix, probe: config.probe },
    workerId: options.workerId,
  };
}

/**
 * The sweep's fan-out: Pub/Sub when a rotation topic is configured (production), otherwise
 * in-process with bounded concurrency (local runs).
 */
export async function makeRotationQueue(config: Config, deps: AppDeps): Promise<RotationQueue> {
  if (config.rotationTopic) {
    const { PubSubRotationQueue } = await import('./queue/pubsub-rotation-queue.js');
    return new PubSubRotationQueue({ topic: config.rotationTopic });
  }
  const { InProcessRotationQueue } = await import('./queue/in-process-rotation-queue.js');
  return new InProcessRotationQueue(deps);
}
