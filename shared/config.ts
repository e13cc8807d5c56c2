// Configuration: parsed once, by a pure function of the environment; a bad value fails at start
// with a message naming the variable. The composition root (compose.ts) turns it into adapters.
import { MeshlinkError, type ErrorDetail } from './errors.js';
import { parseDuration } from './link/duration.js';
import type { AppSettings } from './app/deps.js';
import { connectGatewayEndpoint as connectGatewayEndpointOf } from './clusters/cluster-ref.js';

export interface Config {
  store:
    | { kind: 'local'; dir: string }
    | {
        kind: 'secret-manager';
        project: string;
        location?: string;
        endpoint?: { host: string; port: number; plaintext: boolean };
        /** Longest backoff of one call on RESOURCE_EXHAUSTED/UNAVAILABLE (MESHLINK_STORE_RETRY); 0 = no retry. */
        retryMs: number;
      };
  /** Where the local store and local cluster directories live. */
  stateDir: string;
  secretPrefix: string;
  /** Local server: port and sweep timer (0 = off). */
  port: number;
  sweepIntervalMs: number;
  /** Production fan-out: the Pub/Sub topic the sweep publishes due links to (projects/P/topics/T). */
  rotationTopic?: string;
  logLevel: 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
  /** Project id -> number, for Connect gateway URLs (which want the number). */
  projectNumbers: Record<string, string>;
  /** Connect gateway base URL replacing Google's (MESHLINK_CONNECT_GATEWAY_ENDPOINT): Private Service Connect. */
  connectGatewayEndpoint?: string;
  /** Kinds of remote cluster reference this deployment may reach (MESHLINK_CLUSTER_ACCESS); undefined = all. */
  clusterAccess?: ('gke' | 'fleet' | 'kubeconfig')[];
  /** Rotation settings given in the environment (the rest keep DEFAULT_SETTINGS); docs/rotation.md. */
  rotation: Partial<Pick<AppSettings, RotationSettingName>>;
}

type RotationSettingName =
  | 'rolloverGraceMs'
  | 'forcedRolloverGraceMs'
  | 'versionGraceMs'
  | 'versionRetentionMs'
  | 'syncRetryMs'
  | 'leaseMs'
  | 'sweepPageSize'
  | 'rotationConcurrency'
  | 'writeBudget';

/** Environment variable -> rotation setting; durations as in a link spec (30s, 5m, 1h, 7d). */
const ROTATION_DURATIONS: [string, RotationSettingName][] = [
  ['MESHLINK_ROLLOVER_GRACE', 'rolloverGraceMs'],
  ['MESHLINK_FORCED_ROLLOVER_GRACE', 'forcedRolloverGraceMs'],
  ['MESHLINK_VERSION_GRACE', 'versionGraceMs'],
  ['MESHLINK_VERSION_RETENTION', 'versionRetentionMs'],
  ['MESHLINK_SYNC_RETRY', 'syncRetryMs'],
  ['MESHLINK_LEASE', 'leaseMs'],
];
const ROTATION_COUNTS: [string, RotationSettingName, number][] = [
  ['MESHLINK_SWEEP_PAGE_SIZE', 'sweepPageSize', 25_000],
  ['MESHLINK_ROTATION_CONCURRENCY', 'rotationConcurrency', 64],
  ['MESHLINK_WRITE_BUDGET', 'writeBudget', 1_000_000],
];

const LOOPBACK = new Set(['127.0.0.1', '::1', '[::1]', 'localhost']);
const SECRET_PREFIX = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export function parseConfig(env: Record<string, string | undefined>): Config {
  const problems: ErrorDetail[] = [];
  const get = (name: string) => {
    const v = env[name]?.trim();
    return v === '' ? undefined : v;
  };
  const stateDir = get('MESHLINK_STATE_DIR') ?? '.meshlink';
  const secretPrefix = get('MESHLINK_SECRET_PREFIX') ?? 'meshlink';
  if (!SECRET_PREFIX.test(secretPrefix)) problems.push({ path: 'MESHLINK_SECRET_PREFIX', message: 'must start with a letter and hold only letters, digits, _ and - (at most 64)' });

  let store: Config['store'] = { kind: 'local', dir: `${stateDir}/store` };
  const storeKind = get('MESHLINK_STORE') ?? 'local';
  if (storeKind === 'secret-manager') {
    const project = get('MESHLINK_PROJECT') ?? get('GOOGLE_CLOUD_PROJECT');
    if (!project) problems.push({ path: 'MESHLINK_PROJECT', message: 'is required when MESHLINK_STORE=secret-manager' });
    const location = get('MESHLINK_SECRET_MANAGER_LOCATION');
    const endpointText = get('MESHLINK_SECRET_MANAGER_ENDPOINT');
    let endpoint: { host: string; port: number; plaintext: boolean } | undefined;
    if (endpointText) {
      const m = /^(?:(https?|plaintext):\/\/)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?$/.exec(endpointText);
      if (!m) {
        problems.push({ path: 'MESHLINK_SECRET_MANAGER_ENDPOINT', message: 'must be host[:port], or plaintext://127.0.0.1:PORT for a local test server' });
      } else {
        const plaintext = m[1] === 'plaintext' || m[1] === 'http';
        const host = m[2]!;
        if (plaintext && !LOOPBACK.has(host)) problems.push({ path: 'MESHLINK_SECRET_MANAGER_ENDPOINT', message: 'plaintext is allowed only to a loopback address' });
        endpoint = { host, port: m[3] ? Number(m[3]) : 443, plaintext };
      }
    }
    const retryText = get('MESHLINK_STORE_RETRY') ?? '30s';
    const retryMs = retryText === '0' || retryText === 'off' ? 0 : parseDuration(retryText);
    if (retryMs === undefined || retryMs > 600_000) problems.push({ path: 'MESHLINK_STORE_RETRY', message: 'must be a duration up to 10m such as 30s, or off' });
    if (project) store = { kind: 'secret-manager', project, ...(location ? { location } : {}), ...(endpoint ? { endpoint } : {}), retryMs: retryMs ?? 0 };
  } else if (storeKind !== 'local') {
    problems.push({ path: 'MESHLINK_STORE', message: 'must be local or secret-manager' });
  }

  const portText = get('PORT') ?? '8080';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push({ path: 'PORT', message: 'must be a port number' });

  const sweepText = get('MESHLINK_SWEEP_INTERVAL') ?? '1m';
  const sweepIntervalMs = sweepText === '0' || sweepText === 'off' ? 0 : parseDuration(sweepText);
  if (sweepIntervalMs === undefined) problems.push({ path: 'MESHLINK_SWEEP_INTERVAL', message: 'must be a duration such as 30s or 5m, or off' });

  const rotationTopic = get('MESHLINK_ROTATION_TOPIC');
  if (rotationTopic && !/^projects\/[^/]+\/topics\/[^/]+$/.test(rotationTopic)) problems.push({ path: 'MESHLINK_ROTATION_TOPIC', message: 'must be projects/PROJECT/topics/TOPIC' });

  const logLevel = (get('MESHLINK_LOG_LEVEL') ?? 'INFO').toUpperCase();
  if (!['DEBUG', 'INFO', 'WARNING', 'ERROR'].includes(logLevel)) problems.push({ path: 'MESHLINK_LOG_LEVEL', message: 'must be DEBUG, INFO, WARNING or ERROR' });

  const projectNumbers: Record<string, string> = {};
  for (const [idVar, numberVar] of [
    ['MESHLINK_PROJECT', 'MESHLINK_PROJECT_NUMBER'],
    ['MESHLINK_FLEET_PROJECT', 'MESHLINK_FLEET_PROJECT_NUMBER'],
  ] as const) {
    const id = get(idVar);
    const number = get(numberVar);
    if (number === undefined) continue;
    if (!/^\d{1,20}$/.test(number)) problems.push({ path: numberVar, message: 'must be a project number (digits only)' });
    else if (id) projectNumbers[id] = number;
    else problems.push({ path: idVar, message: `is required with ${numberVar}` });
  }

  const gatewayText = get('MESHLINK_CONNECT_GATEWAY_ENDPOINT');
  const connectGatewayEndpoint = gatewayText === undefined ? undefined : connectGatewayEndpointOf(gatewayText);
  if (gatewayText !== undefined && connectGatewayEndpoint === undefined) {
    problems.push({ path: 'MESHLINK_CONNECT_GATEWAY_ENDPOINT', message: 'must be an https URL: https://host[:port][/path], no query' });
  }

  let clusterAccess: Config['clusterAccess'];
  const accessText = env['MESHLINK_CLUSTER_ACCESS'];
  if (accessText !== undefined) {
    const kinds = accessText.split(',').map((k) => k.trim()).filter(Boolean);
    const bad = kinds.filter((k) => !['gke', 'fleet', 'kubeconfig'].includes(k));
    if (bad.length) problems.push({ path: 'MESHLINK_CLUSTER_ACCESS', message: `must list gke, fleet or kubeconfig (got ${bad.join(', ')})` });
    clusterAccess = kinds as NonNullable<Config['clusterAccess']>;
  }

  const logFormat = get('MESHLINK_LOG_FORMAT') ?? 'json';
  if (logFormat !== 'json') problems.push({ path: 'MESHLINK_LOG_FORMAT', message: 'must be json (one JSON object per line, as Cloud Logging reads it)' });

  const rotation: Config['rotation'] = {};
  for (const [name, key] of ROTATION_DURATIONS) {
    const v = get(name);
    if (v === undefined) continue;
    const ms = parseDuration(v);
    if (ms === undefined) problems.push({ path: name, message: 'must be a duration such as 30s, 5m, 1h or 7d' });
    else rotation[key] = ms;
  }
  for (const [name, key, max] of ROTATION_COUNTS) {
    const v = get(name);
    if (v === undefined) continue;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1 || n > max) problems.push({ path: name, message: `must be a whole number from 1 to ${max}` });
    else rotation[key] = n;
  }
  if (rotation.versionGraceMs !== undefined && rotation.versionRetentionMs !== undefined && rotation.versionRetentionMs < rotation.versionGraceMs) {
    problems.push({ path: 'MESHLINK_VERSION_RETENTION', message: 'must not be shorter than MESHLINK_VERSION_GRACE' });
  }

  if (problems.length > 0) {
    throw new MeshlinkError('invalid-argument', `invalid configuration: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, { details: problems });
  }
  return {
    store,
    stateDir,
    secretPrefix,
    port,
    sweepIntervalMs: sweepIntervalMs ?? 0,
    ...(rotationTopic ? { rotationTopic } : {}),
    logLevel: logLevel as Config['logLevel'],
    projectNumbers,
    ...(connectGatewayEndpoint ? { connectGatewayEndpoint } : {}),
    ...(clusterAccess ? { clusterAccess } : {}),
    rotation,
  };
}
