// Pure checks of the Terraform in infra/: each takes the parsed model and returns the problems it finds (none means it passes).
import {
  block,
  expandedText,
  instancesOf,
  isRecord,
  path,
  referenced,
  refs,
  resolve,
  strings,
  type InfraModel,
  type Instance,
} from './model.js';

const FUNCTION = 'google_cloudfunctions2_function';
const TOPIC = 'google_pubsub_topic';
const SUBSCRIPTION = 'google_pubsub_subscription';
const CUSTOM_ROLE = 'google_project_iam_custom_role';

const isLiteral = (v: unknown): v is string => typeof v === 'string' && !v.includes('${');

function entryPoint(model: InfraModel, fn: Instance): unknown {
  return resolve(model, path(fn.body, 'build_config', 'entry_point'));
}

/** Deployed functions by entry point (literal entry points only). */
function functionsByEntryPoint(model: InfraModel): Map<string, Instance> {
  const out = new Map<string, Instance>();
  for (const fn of instancesOf(model, FUNCTION)) {
    const ep = entryPoint(model, fn);
    if (isLiteral(ep)) out.set(ep, fn);
  }
  return out;
}

/** Every entry point the code registers is deployed once, and every deployed one is registered. */
export function checkEntryPoints(model: InfraModel, registered: readonly string[]): string[] {
  const problems: string[] = [];
  const deployed = new Map<string, string[]>();
  for (const fn of instancesOf(model, FUNCTION)) {
    const ep = entryPoint(model, fn);
    if (!isLiteral(ep)) {
      problems.push(`${fn.address}: entry_point ${JSON.stringify(ep)} is not a literal name`);
      continue;
    }
    deployed.set(ep, [...(deployed.get(ep) ?? []), fn.address]);
    if (!registered.includes(ep)) problems.push(`${fn.address}: entry_point ${ep} is not registered by the code`);
  }
  for (const ep of registered) {
    const where = deployed.get(ep) ?? [];
    if (where.length === 0) problems.push(`entry point ${ep} is registered by the code but not deployed`);
    if (where.length > 1) problems.push(`entry point ${ep} is deployed more than once: ${where.join(', ')}`);
  }
  return problems;
}

/** Every function runs on an allowed runtime, literally or through a validated variable. */
export function checkRuntime(model: InfraModel, allowed: readonly string[]): string[] {
  const problems: string[] = [];
  const fns = instancesOf(model, FUNCTION);
  if (fns.length === 0) problems.push('no google_cloudfunctions2_function is deployed');
  for (const fn of fns) {
    const runtime = resolve(model, path(fn.body, 'build_config', 'runtime'));
    if (isLiteral(runtime)) {
      if (!allowed.includes(runtime)) problems.push(`${fn.address}: runtime ${runtime} is not one of ${allowed.join(', ')}`);
      continue;
    }
    const v = typeof runtime === 'string' ? /^\$\{var\.([\w-]+)\}$/.exec(runtime)?.[1] : undefined;
    const variable = v ? model.variables[v] : undefined;
    if (!v || !variable) {
      problems.push(`${fn.address}: runtime ${JSON.stringify(runtime)} is neither a literal nor a variable`);
      continue;
    }
    const def = variable.default;
    if (!isLiteral(def) || !allowed.includes(def)) problems.push(`variable ${v}: default ${JSON.stringify(def)} is not one of ${allowed.join(', ')}`);
    const condition = strings(path(variable, 'validation', 'condition')).join(' ');
    const named = condition.match(/nodejs\d+/g) ?? [];
    if (named.length === 0) problems.push(`variable ${v}: no validation limits the runtime`);
    for (const r of named) if (!allowed.includes(r)) problems.push(`variable ${v}: validation admits ${r}`);
  }
  return problems;
}

/** Push subscriptions: which topic feeds which function (by entry point). */
function pushRoutes(model: InfraModel): { sub: Instance; topics: Instance[]; targets: Instance[] }[] {
  return instancesOf(model, SUBSCRIPTION)
    .filter((s) => block(s.body, 'push_config'))
    .map((sub) => ({
      sub,
      topics: referenced(model, sub.body.topic, TOPIC),
      targets: referenced(model, path(sub.body, 'push_config', 'push_endpoint'), FUNCTION),
    }));
}

function subscribersOf(model: InfraModel, topic: Instance): string[] {
  return pushRoutes(model)
    .filter((r) => r.topics.some((t) => t.address === topic.address))
    .flatMap((r) => r.targets.map((fn) => String(entryPoint(model, fn))));
}

function expectFeeds(model: InfraModel, what: string, topics: Instance[], entry: string): string[] {
  if (topics.length !== 1) return [`${what}: refers to ${topics.length} topics, expected exactly one`];
  const topic = topics[0] as Instance;
  const subscribers = subscribersOf(model, topic);
  if (subscribers.length !== 1 || subscribers[0] !== entry) {
    return [`${what}: topic ${topic.address} is pushed to [${subscribers.join(', ')}], expected [${entry}]`];
  }
  return [];
}

export interface Wiring {
  http: readonly string[];
  schedule: string;
  rotation: string;
  registration: string;
  /** The runtime variable that names the fan-out topic. */
  rotationTopicEnv: string;
}

/**
 * The schedule job feeds the sweep, the fan-out topic (named to the functions by an environment
 * variable) feeds the rotation worker, the log sink feeds the registration function; every event
 * function has exactly one push subscription and no Eventarc trigger; HTTP functions have none.
 */
export function checkEventWiring(model: InfraModel, w: Wiring): string[] {
  const problems: string[] = [];
  const fns = functionsByEntryPoint(model);

  for (const fn of instancesOf(model, FUNCTION)) {
    if (block(fn.body, 'event_trigger')) {
      problems.push(`${fn.address}: has an event_trigger (its Eventarc subscription cannot dead-letter); use a push subscription`);
    }
  }
  const routes = pushRoutes(model);
  for (const r of routes) {
    if (r.targets.length !== 1) problems.push(`${r.sub.address}: push endpoint refers to ${r.targets.length} functions, expected one`);
    if (r.topics.length !== 1) problems.push(`${r.sub.address}: refers to ${r.topics.length} topics, expected one`);
  }
  for (const ep of [w.schedule, w.rotation, w.registration]) {
    const fn = fns.get(ep);
    const n = fn ? routes.filter((r) => r.targets.some((t) => t.address === fn.address)).length : 0;
    if (n !== 1) problems.push(`${ep}: has ${n} push subscriptions, expected exactly one`);
  }
  for (const ep of w.http) {
    const fn = fns.get(ep);
    if (fn && routes.some((r) => r.targets.some((t) => t.address === fn.address))) problems.push(`${ep}: an HTTP function is a push target`);
  }

  const jobs = instancesOf(model, 'google_cloud_scheduler_job');
  if (jobs.length === 0) problems.push('no google_cloud_scheduler_job starts the sweep');
  for (const job of jobs) {
    const target = block(job.body, 'pubsub_target');
    if (!target) {
      problems.push(`${job.address}: has no pubsub_target`);
      continue;
    }
    if ('attempt_deadline' in job.body) problems.push(`${job.address}: attempt_deadline is ignored for Pub/Sub targets (perpetual diff)`);
    problems.push(...expectFeeds(model, job.address, referenced(model, target.topic_name, TOPIC), w.schedule));
  }

  for (const fn of instancesOf(model, FUNCTION)) {
    const env = resolve(model, path(fn.body, 'service_config', 'environment_variables'));
    const topicRef = isRecord(env) ? env[w.rotationTopicEnv] : undefined;
    if (topicRef === undefined) {
      problems.push(`${fn.address}: environment has no ${w.rotationTopicEnv}`);
      continue;
    }
    problems.push(...expectFeeds(model, `${fn.address} ${w.rotationTopicEnv}`, referenced(model, topicRef, TOPIC), w.rotation));
  }

  const sinks = instancesOf(model, 'google_logging_project_sink');
  if (sinks.length === 0) problems.push('no google_logging_project_sink routes registration events');
  for (const sink of sinks) {
    const topics = referenced(model, sink.body.destination, TOPIC);
    problems.push(...expectFeeds(model, sink.address, topics, w.registration));
    const writerGrants = instancesOf(model, 'google_pubsub_topic_iam_member').filter(
      (g) =>
        g.body.role === 'roles/pubsub.publisher' &&
        topics.some((t) => refs(g.body.topic).includes(t.address)) &&
        strings(g.body.member).some((m) => m.includes(`${sink.type}.${sink.name}`) && m.includes('writer_identity')),
    );
    if (writerGrants.length === 0) problems.push(`${sink.address}: its writer_identity is not granted roles/pubsub.publisher on the destination topic`);
  }
  return problems;
}

const PUBSUB_AGENT = 'gcp-sa-pubsub.iam.gserviceaccount.com';

/** Push subscriptions authenticate, retry and dead-letter; nothing dead-lettered is lost; no subscription expires. */
export function checkSubscriptions(model: InfraModel): string[] {
  const problems: string[] = [];
  const subs = instancesOf(model, SUBSCRIPTION);
  const grants = (type: string, role: string, target: string, attr: string) =>
    instancesOf(model, type).filter(
      (g) => g.body.role === role && refs(g.body[attr]).includes(target) && expandedText(model, g.body.member).includes(PUBSUB_AGENT),
    );

  for (const sub of subs) {
    if (path(sub.body, 'expiration_policy', 'ttl') !== '') problems.push(`${sub.address}: expires when idle (set expiration_policy { ttl = "" })`);
    const push = block(sub.body, 'push_config');
    if (!push) continue;
    const endpoint = strings(push.push_endpoint).join('');
    if (!/\/projects\/[^/]+\/topics\/[^/]+$/.test(endpoint)) {
      problems.push(`${sub.address}: push endpoint does not end in /projects/PROJECT/topics/TOPIC (no CloudEvent conversion)`);
    }
    if (!path(push, 'oidc_token', 'service_account_email')) problems.push(`${sub.address}: push without an OIDC token`);
    if (!block(sub.body, 'retry_policy')) problems.push(`${sub.address}: has no retry_policy`);
    const dlp = block(sub.body, 'dead_letter_policy');
    const dlq = dlp ? referenced(model, dlp.dead_letter_topic, TOPIC) : [];
    if (!dlp || dlq.length !== 1) {
      problems.push(`${sub.address}: has no dead_letter_policy with a dead-letter topic of this configuration`);
      continue;
    }
    if (dlp.max_delivery_attempts === undefined) problems.push(`${sub.address}: dead_letter_policy sets no max_delivery_attempts`);
    const topic = dlq[0] as Instance;
    if (!subs.some((s) => refs(s.body.topic).includes(topic.address))) {
      problems.push(`${sub.address}: dead-letter topic ${topic.address} has no subscription (dead-lettered messages would be lost)`);
    }
    if (grants('google_pubsub_topic_iam_member', 'roles/pubsub.publisher', topic.address, 'topic').length === 0) {
      problems.push(`${sub.address}: the Pub/Sub service agent cannot publish to ${topic.address}`);
    }
    if (grants('google_pubsub_subscription_iam_member', 'roles/pubsub.subscriber', sub.address, 'subscription').length === 0) {
      problems.push(`${sub.address}: the Pub/Sub service agent is not a subscriber on it`);
    }
  }
  return problems;
}

/** No public principal anywhere in the configuration (resources, locals, variables, outputs). */
export function checkNoPublicPrincipals(model: InfraModel): string[] {
  const problems: string[] = [];
  const walk = (v: unknown, where: string) => {
    if (typeof v === 'string') {
      for (const m of v.match(/allUsers|allAuthenticatedUsers/g) ?? []) problems.push(`${where}: mentions ${m}`);
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
    else if (isRecord(v)) for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`);
  };
  model.files.forEach((f, i) => walk(f, `file ${i}`));
  return problems;
}

function isIamGrant(i: Instance): boolean {
  return /_iam_(member|binding)$/.test(i.type);
}

function grantedRole(model: InfraModel, g: Instance): unknown {
  return resolve(model, g.body.role);
}

function customRoleOf(model: InfraModel, role: unknown): Instance | undefined {
  return referenced(model, role, CUSTOM_ROLE)[0];
}

function permissionsOf(role: Instance): string[] {
  return strings(role.body.permissions);
}

export interface RolePolicy {
  roles: readonly string[];
  permissions: readonly string[];
  forbidden: readonly string[];
}

/**
 * Every granted role is on the allowlist (or a custom role defined here whose permissions are),
 * no forbidden role appears anywhere, and no authoritative policy or function-level IAM is used.
 */
export function checkIamRoles(model: InfraModel, policy: RolePolicy): string[] {
  const problems: string[] = [];
  for (const i of model.instances) {
    if (i.type.endsWith('_iam_policy')) problems.push(`${i.address}: authoritative IAM policies are not allowed`);
    if (i.type.startsWith('google_cloudfunctions2_function_iam')) {
      problems.push(`${i.address}: grant roles/run.invoker on the Cloud Run service (google_cloud_run_v2_service_iam_member) instead`);
    }
  }
  for (const g of model.instances.filter(isIamGrant)) {
    const role = grantedRole(model, g);
    if (customRoleOf(model, role)) continue;
    if (!isLiteral(role)) problems.push(`${g.address}: role ${JSON.stringify(role)} is neither a literal nor a custom role of this configuration`);
    else if (!policy.roles.includes(role)) problems.push(`${g.address}: role ${role} is not on the allowlist`);
  }
  for (const r of instancesOf(model, CUSTOM_ROLE)) {
    for (const p of permissionsOf(r)) if (!policy.permissions.includes(p)) problems.push(`${r.address}: permission ${p} is not on the allowlist`);
  }
  for (const s of model.files.flatMap(strings)) {
    for (const f of policy.forbidden) if (s.includes(`"${f}"`) || s === f) problems.push(`forbidden role ${f} appears in the configuration`);
  }
  return problems;
}

/** Secret Manager permissions that are checked on the project and so cannot be conditioned on a name. */
const PROJECT_LEVEL_SECRET_PERMISSIONS = ['secretmanager.secrets.create', 'secretmanager.secrets.list'];
const OWN_SECRETS = /resource\.name\.startsWith\(\\?"projects\/\$\{[^}]*number[^}]*\}\/secrets\/[^"\\]*-\\?"\)/;

/**
 * Every Secret Manager grant is conditioned on meshlink's secret-name prefix in project-number
 * form, except a custom role holding only secrets.create/list, which must not be conditioned.
 */
export function checkSecretConditions(model: InfraModel): string[] {
  const problems: string[] = [];
  for (const g of model.instances.filter(isIamGrant)) {
    const role = grantedRole(model, g);
    const custom = customRoleOf(model, role);
    const perms = custom ? permissionsOf(custom).filter((p) => p.startsWith('secretmanager.')) : [];
    const predefined = isLiteral(role) && role.startsWith('roles/secretmanager.');
    if (!predefined && perms.length === 0) continue;
    const condition = expandedText(model, path(g.body, 'condition', 'expression'));
    const projectLevel = perms.filter((p) => PROJECT_LEVEL_SECRET_PERMISSIONS.includes(p));
    const perSecret = predefined || perms.length > projectLevel.length;
    if (projectLevel.length > 0 && perSecret) {
      problems.push(`${g.address}: mixes ${projectLevel.join(', ')} (project-level) with per-secret permissions in one role`);
    } else if (projectLevel.length > 0 && condition) {
      problems.push(`${g.address}: ${projectLevel.join(', ')} cannot be granted under a secret-name condition`);
    } else if (perSecret && !OWN_SECRETS.test(condition)) {
      problems.push(`${g.address}: Secret Manager access is not conditioned on resource.name.startsWith("projects/NUMBER/secrets/PREFIX-")`);
    }
  }
  return problems;
}

/**
 * roles/run.invoker: event functions are invoked by a service account of this configuration
 * (the push identity), the HTTP functions by the principals of var.api_invokers only.
 */
export function checkInvokers(model: InfraModel, httpEntryPoints: readonly string[]): string[] {
  const problems: string[] = [];
  const invokerGrants = model.instances.filter(isIamGrant).filter((g) => grantedRole(model, g) === 'roles/run.invoker');
  for (const g of invokerGrants) {
    const fns = referenced(model, g.body.name, FUNCTION);
    if (fns.length !== 1) {
      problems.push(`${g.address}: grants roles/run.invoker on ${fns.length} functions of this configuration, expected one`);
      continue;
    }
    const http = httpEntryPoints.includes(String(entryPoint(model, fns[0] as Instance)));
    if (http) {
      const fromVariable = strings(g.forEach).some((s) => s.includes('var.api_invokers')) && /^\$\{each\.(key|value)\}$/.test(String(g.body.member));
      if (!fromVariable) problems.push(`${g.address}: HTTP invokers must come from var.api_invokers`);
    } else if (referenced(model, g.body.member, 'google_service_account').length !== 1) {
      problems.push(`${g.address}: event functions may only be invoked by the push service account`);
    }
  }
  for (const ep of httpEntryPoints) {
    const fn = functionsByEntryPoint(model).get(ep);
    if (fn && !invokerGrants.some((g) => refs(g.body.name).includes(fn.address))) problems.push(`${ep}: no roles/run.invoker grant from var.api_invokers`);
  }
  return problems;
}

/** The log sink's filter selects the methods the registration handler parses, GKE at operation.last. */
export function checkLogSink(model: InfraModel, methods: readonly string[]): string[] {
  const problems: string[] = [];
  for (const sink of instancesOf(model, 'google_logging_project_sink')) {
    const filter = expandedText(model, sink.body.filter);
    for (const m of methods) if (!filter.includes(`"${m}"`)) problems.push(`${sink.address}: filter does not select ${m}`);
    if (!filter.includes('operation.last=true')) problems.push(`${sink.address}: filter does not require operation.last=true`);
    if (!filter.includes('cloudaudit.googleapis.com%2Factivity')) problems.push(`${sink.address}: filter is not limited to Admin Activity audit logs`);
  }
  return problems;
}
