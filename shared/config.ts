// Configuration: parsed once, by a pure function of the environment (a zod schema, as the link
// spec is); a bad value fails at start with a message naming the variable. The composition root
// (compose.ts) turns it into adapters.
import * as z from 'zod';
import { MeshlinkError, type ErrorDetail } from './errors.js';
import { parseDuration } from './link/duration.js';
import { DEFAULT_SETTINGS, type AppSettings } from './app/deps.js';
import { connectGatewayEndpoint as connectGatewayEndpointOf } from './link/cluster-ref.js';
import { BUCKET_NAME } from './store/claims/bucket-name.js';

export interface Config {
  store:
    | { kind: 'local'; dir: string }
    | {
        kind: 'secret-manager';
        project: string;
        location?: string;
        endpoint?: Endpoint;
        /** Longest backoff of one call on RESOURCE_EXHAUSTED/UNAVAILABLE (MESHLINK_STORE_RETRY); 0 = no retry. */
        retryMs: number;
        /** The Cloud Storage bucket that holds the claims (MESHLINK_CLAIMS_BUCKET); absent: claims are secrets. */
        claimsBucket?: string;
      };
  /** Google CA Service endpoint replacing Google's (MESHLINK_CAS_ENDPOINT): Private Service Connect, or a local test server. */
  casEndpoint?: Endpoint;
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
  /** The link health probe (MESHLINK_PROBE, MESHLINK_PROBE_TIMEOUT, MESHLINK_PROBE_CONCURRENCY). */
  probe: AppSettings['probe'];
}

type Endpoint = { host: string; port: number; plaintext: boolean };

type RotationSettingName =
  | 'rolloverGraceMs'
  | 'partnerLeadMs'
  | 'partnerLeadMs'
  | 'forcedRolloverGraceMs'
  | 'versionGraceMs'
  | 'versionRetentionMs'
  | 'syncRetryMs'
  | 'leaseMs'
  | 'sweepPageSize'
  | 'rotationConcurrency'
  | 'servedGraceMs'
  | 'writeBudget';

const LOOPBACK = new Set(['127.0.0.1', '::1', '[::1]', 'localhost']);
const CLUSTER_KINDS = ['gke', 'fleet', 'kubeconfig'] as const;

/** A variable's value, trimmed; blank is unset. */
const set = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
const variable = <T extends z.ZodType>(schema: T) => z.preprocess(set, schema);

/** A duration as in a link spec (30s, 5m, 1h, 7d); with `off`, also 0 or off (= 0). */
function duration(message: string, options: { off?: boolean; maxMs?: number } = {}) {
  return z.string().transform((text, ctx) => {
    if (options.off && (text === '0' || text === 'off')) return 0;
    const ms = parseDuration(text);
    if (ms !== undefined && (options.maxMs === undefined || ms <= options.maxMs)) return ms;
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  });
}

function count(max: number) {
  const message = `must be a whole number from 1 to ${max}`;
  return z
    .string()
    .regex(/^\d+$/, message)
    .transform(Number)
    .refine((n) => n >= 1 && n <= max, message);
}

const ENDPOINT = /^(?:(https?|plaintext):\/\/)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?$/;

/** A gRPC endpoint: `host[:port]`, or `plaintext://127.0.0.1:PORT` for a local test server (loopback only). */
const grpcEndpoint = variable(
  z
    .string()
    .transform((text, ctx): Endpoint => {
      const m = ENDPOINT.exec(text);
      if (!m) ctx.addIssue({ code: 'custom', message: 'must be host[:port], or plaintext://127.0.0.1:PORT for a local test server' });
      else if ((m[1] === 'plaintext' || m[1] === 'http') && !LOOPBACK.has(m[2]!)) ctx.addIssue({ code: 'custom', message: 'plaintext is allowed only to a loopback address' });
      else return { host: m[2]!, port: m[3] ? Number(m[3]) : 443, plaintext: m[1] === 'plaintext' || m[1] === 'http' };
      return z.NEVER;
    })
    .optional(),
);

const ROTATION_DURATION = 'must be a duration such as 30s, 5m, 1h or 7d';
const projectNumber = variable(z.string().regex(/^\d{1,20}$/, 'must be a project number (digits only)').optional());

/** The environment meshlink reads, each variable with its rule (Secret Manager's own below). */
const environment = {
  MESHLINK_STATE_DIR: variable(z.string().default('.meshlink')),
  MESHLINK_SECRET_PREFIX: variable(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'must start with a letter and hold only letters, digits, _ and - (at most 64)').default('meshlink')),
  MESHLINK_STORE: variable(z.enum(['local', 'secret-manager'], { error: 'must be local or secret-manager' }).default('local')),
  PORT: variable(
    z
      .string()
      .default('8080')
      .transform(Number)
      .refine((n) => Number.isInteger(n) && n >= 0 && n <= 65535, 'must be a port number'),
  ),
  MESHLINK_SWEEP_INTERVAL: variable(duration('must be a duration such as 30s or 5m, or off', { off: true }).default(60_000)),
  MESHLINK_ROTATION_TOPIC: variable(z.string().regex(/^projects\/[^/]+\/topics\/[^/]+$/, 'must be projects/PROJECT/topics/TOPIC').optional()),
  MESHLINK_LOG_LEVEL: variable(z.string().default('INFO').transform((v) => v.toUpperCase()).pipe(z.enum(['DEBUG', 'INFO', 'WARNING', 'ERROR'], { error: 'must be DEBUG, INFO, WARNING or ERROR' }))),
  MESHLINK_LOG_FORMAT: variable(z.literal('json', { error: 'must be json (one JSON object per line, as Cloud Logging reads it)' }).default('json')),
  MESHLINK_PROJECT: variable(z.string().optional()),
  GOOGLE_CLOUD_PROJECT: variable(z.string().optional()),
  MESHLINK_PROJECT_NUMBER: projectNumber,
  MESHLINK_FLEET_PROJECT: variable(z.string().optional()),
  MESHLINK_FLEET_PROJECT_NUMBER: projectNumber,
  MESHLINK_CONNECT_GATEWAY_ENDPOINT: variable(
    z
      .string()
      .transform((text, ctx) => connectGatewayEndpointOf(text) ?? (ctx.addIssue({ code: 'custom', message: 'must be an https URL: https://host[:port][/path], no query' }), z.NEVER))
      .optional(),
  ),
  // Not trimmed to unset: an empty list reaches no remote cluster.
  MESHLINK_CLUSTER_ACCESS: z
    .string()
    .transform((text) => text.split(',').map((k) => k.trim()).filter(Boolean))
    .superRefine((kinds, ctx) => {
      const bad = kinds.filter((k) => !(CLUSTER_KINDS as readonly string[]).includes(k));
      if (bad.length) ctx.addIssue({ code: 'custom', message: `must list gke, fleet or kubeconfig (got ${bad.join(', ')})` });
    })
    .optional(),
  MESHLINK_ROLLOVER_GRACE: variable(duration(ROTATION_DURATION).optional()),
  MESHLINK_PARTNER_LEAD: variable(duration(ROTATION_DURATION).optional()),
  MESHLINK_FORCED_ROLLOVER_GRACE: variable(duration(ROTATION_DURATION).optional()),
  MESHLINK_VERSION_GRACE: variable(duration(ROTATION_DURATION).optional()),
  MESHLINK_VERSION_RETENTION: variable(duration(ROTATION_DURATION).optional()),
  MESHLINK_SYNC_RETRY: variable(duration(ROTATION_DURATION).optional()),
  MESHLINK_LEASE: variable(duration(ROTATION_DURATION).optional()),
  MESHLINK_SWEEP_PAGE_SIZE: variable(count(25_000).optional()),
  MESHLINK_ROTATION_CONCURRENCY: variable(count(64).optional()),
  MESHLINK_WRITE_BUDGET: variable(count(1_000_000).optional()),
  MESHLINK_PROBE_GRACE: variable(duration(ROTATION_DURATION).optional()),
  MESHLINK_PROBE: variable(z.enum(['on', 'off'], { error: 'must be on or off' }).optional()),
  MESHLINK_PROBE_TIMEOUT: variable(duration('must be a duration up to 1m such as 5s', { maxMs: 60_000 }).optional()),
  MESHLINK_PROBE_CONCURRENCY: variable(count(256).optional()),
  MESHLINK_CAS_ENDPOINT: grpcEndpoint,
  MESHLINK_CLAIMS_BUCKET: variable(
    z
      .string()
      .regex(BUCKET_NAME, 'must be a Cloud Storage bucket name (lowercase letters, digits, -, _ and dots; 3 to 63 characters), without gs://')
      .optional(),
  ),
} satisfies z.ZodRawShape;

/** What MESHLINK_STORE=secret-manager reads besides. */
const secretManagerEnvironment = {
  MESHLINK_SECRET_MANAGER_LOCATION: variable(z.string().optional()),
  MESHLINK_SECRET_MANAGER_ENDPOINT: grpcEndpoint,
  MESHLINK_STORE_RETRY: variable(duration('must be a duration up to 10m such as 30s, or off', { off: true, maxMs: 600_000 }).default(30_000)),
} satisfies z.ZodRawShape;

/**
 * Each variable parsed on its own, so that the rules across variables still see every good one and
 * one start reports every problem.
 */
function parseEach<S extends z.ZodRawShape>(shape: S, env: Record<string, string | undefined>, problems: ErrorDetail[]): Partial<z.output<z.ZodObject<S>>> {
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(shape)) {
    const result = (schema as z.ZodType).safeParse(env[name]);
    if (result.success) out[name] = result.data;
    else problems.push(...result.error.issues.map((issue) => ({ path: name, message: issue.message })));
  }
  return out as Partial<z.output<z.ZodObject<S>>>;
}

export function parseConfig(env: Record<string, string | undefined>): Config {
  const problems: ErrorDetail[] = [];
  const e = parseEach(environment, env, problems);

  let store: Config['store'] = { kind: 'local', dir: `${e.MESHLINK_STATE_DIR}/store` };
  if (e.MESHLINK_STORE === 'secret-manager') {
    const { MESHLINK_SECRET_MANAGER_LOCATION: location, MESHLINK_SECRET_MANAGER_ENDPOINT: endpoint, MESHLINK_STORE_RETRY: retryMs } = parseEach(secretManagerEnvironment, env, problems);
    const project = e.MESHLINK_PROJECT ?? e.GOOGLE_CLOUD_PROJECT;
    if (!project) problems.push({ path: 'MESHLINK_PROJECT', message: 'is required when MESHLINK_STORE=secret-manager' });
    else store = { kind: 'secret-manager', project, ...(location ? { location } : {}), ...(endpoint ? { endpoint } : {}), retryMs: retryMs ?? 0, ...(e.MESHLINK_CLAIMS_BUCKET ? { claimsBucket: e.MESHLINK_CLAIMS_BUCKET } : {}) };
  } else if (e.MESHLINK_CLAIMS_BUCKET) {
    // The local store keeps its claims as files beside the rest: a bucket is for Secret Manager's quotas.
    problems.push({ path: 'MESHLINK_CLAIMS_BUCKET', message: 'is only used with MESHLINK_STORE=secret-manager' });
  }

  const projectNumbers: Record<string, string> = {};
  for (const [id, number, idVar, numberVar] of [
    [e.MESHLINK_PROJECT, e.MESHLINK_PROJECT_NUMBER, 'MESHLINK_PROJECT', 'MESHLINK_PROJECT_NUMBER'],
    [e.MESHLINK_FLEET_PROJECT, e.MESHLINK_FLEET_PROJECT_NUMBER, 'MESHLINK_FLEET_PROJECT', 'MESHLINK_FLEET_PROJECT_NUMBER'],
  ] as const) {
    if (number === undefined) continue;
    if (id) projectNumbers[id] = number;
    else problems.push({ path: idVar, message: `is required with ${numberVar}` });
  }
  if (e.MESHLINK_VERSION_GRACE !== undefined && e.MESHLINK_VERSION_RETENTION !== undefined && e.MESHLINK_VERSION_RETENTION < e.MESHLINK_VERSION_GRACE) {
    problems.push({ path: 'MESHLINK_VERSION_RETENTION', message: 'must not be shorter than MESHLINK_VERSION_GRACE' });
  }

  if (problems.length > 0) {
    throw new MeshlinkError('invalid-argument', `invalid configuration: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, { details: problems });
  }
  const valid = e as z.output<z.ZodObject<typeof environment>>;
  const rotation: Config['rotation'] = Object.fromEntries(
    Object.entries({
      rolloverGraceMs: valid.MESHLINK_ROLLOVER_GRACE,
      partnerLeadMs: valid.MESHLINK_PARTNER_LEAD,
      forcedRolloverGraceMs: valid.MESHLINK_FORCED_ROLLOVER_GRACE,
      versionGraceMs: valid.MESHLINK_VERSION_GRACE,
      versionRetentionMs: valid.MESHLINK_VERSION_RETENTION,
      syncRetryMs: valid.MESHLINK_SYNC_RETRY,
      leaseMs: valid.MESHLINK_LEASE,
      sweepPageSize: valid.MESHLINK_SWEEP_PAGE_SIZE,
      rotationConcurrency: valid.MESHLINK_ROTATION_CONCURRENCY,
      writeBudget: valid.MESHLINK_WRITE_BUDGET,
      servedGraceMs: valid.MESHLINK_PROBE_GRACE,
    }).filter(([, v]) => v !== undefined),
  );
  const probe: AppSettings['probe'] = {
    ...DEFAULT_SETTINGS.probe,
    ...(valid.MESHLINK_PROBE === 'off' ? { sweep: false } : {}),
    ...(valid.MESHLINK_PROBE_TIMEOUT !== undefined ? { timeoutMs: valid.MESHLINK_PROBE_TIMEOUT } : {}),
    ...(valid.MESHLINK_PROBE_CONCURRENCY !== undefined ? { concurrency: valid.MESHLINK_PROBE_CONCURRENCY } : {}),
  };
  return {
    store,
    stateDir: valid.MESHLINK_STATE_DIR,
    secretPrefix: valid.MESHLINK_SECRET_PREFIX,
    port: valid.PORT,
    sweepIntervalMs: valid.MESHLINK_SWEEP_INTERVAL,
    ...(valid.MESHLINK_ROTATION_TOPIC ? { rotationTopic: valid.MESHLINK_ROTATION_TOPIC } : {}),
    logLevel: valid.MESHLINK_LOG_LEVEL,
    projectNumbers,
    ...(valid.MESHLINK_CONNECT_GATEWAY_ENDPOINT ? { connectGatewayEndpoint: valid.MESHLINK_CONNECT_GATEWAY_ENDPOINT } : {}),
    ...(valid.MESHLINK_CAS_ENDPOINT ? { casEndpoint: valid.MESHLINK_CAS_ENDPOINT } : {}),
    ...(valid.MESHLINK_CLUSTER_ACCESS ? { clusterAccess: valid.MESHLINK_CLUSTER_ACCESS as NonNullable<Config['clusterAccess']> } : {}),
    rotation,
    probe,
  };
}
