// Checks infra/*.tf against the code and the least-privilege rules, and shows each check catches a broken copy.
import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_NAMES } from '../../functions/names.js';
import { AUDIT_METHODS } from '../../shared/registration/methods.js';
import {
  checkEntryPoints,
  checkEventWiring,
  checkIamRoles,
  checkInvokers,
  checkLogSink,
  checkNoPublicPrincipals,
  checkRuntime,
  checkSecretConditions,
  checkSubscriptions,
  type RolePolicy,
  type Wiring,
} from './checks.js';
import { loadInfra } from './load.js';
import { buildModel, isRecord, type Body, type HclFile, type InfraModel } from './model.js';

const ALLOWED_RUNTIMES = ['nodejs22', 'nodejs24'];

const WIRING: Wiring = {
  http: [FUNCTION_NAMES.api],
  schedule: FUNCTION_NAMES.sweep,
  rotation: FUNCTION_NAMES.rotateLink,
  registration: FUNCTION_NAMES.clusterRegistration,
  rotationTopicEnv: 'MESHLINK_ROTATION_TOPIC',
};

// The short list of roles and custom-role permissions anything in infra/ may grant.
const ROLE_POLICY: RolePolicy = {
  roles: [
    'roles/secretmanager.secretAccessor', // conditioned on meshlink's secret prefix
    'roles/secretmanager.secretVersionManager', // idem
    'roles/gkehub.viewer',
    'roles/gkehub.gatewayEditor',
    'roles/pubsub.publisher',
    'roles/pubsub.subscriber',
    'roles/run.invoker',
    'roles/logging.logWriter', // build identity
    'roles/artifactregistry.writer', // build identity, on meshlink's repository
    'roles/storage.objectViewer', // build identity, on the source bucket
    'roles/storage.objectAdmin', // build identity, conditioned on the gcf-v2-* staging buckets
  ],
  permissions: [
    'container.clusters.get',
    'container.clusters.getCredentials',
    'secretmanager.secrets.create',
    'secretmanager.secrets.list',
    'secretmanager.secrets.get',
    'secretmanager.secrets.update',
    'secretmanager.secrets.delete',
    // The claims' bucket only (infra/claims.tf): no update, ACL or bucket permission.
    'storage.objects.create',
    'storage.objects.get',
    'storage.objects.list',
    'storage.objects.delete',
  ],
  forbidden: ['roles/owner', 'roles/editor', 'roles/container.developer', 'roles/container.admin'],
};

const REGISTERED = Object.values(FUNCTION_NAMES);
const SINK_METHODS = [...AUDIT_METHODS.gke, ...AUDIT_METHODS.fleet];

type CheckName = 'entryPoints' | 'runtime' | 'wiring' | 'subscriptions' | 'publicPrincipals' | 'roles' | 'secretConditions' | 'invokers' | 'logSink';

/** Every check, by name, on one model. */
function runChecks(model: InfraModel): Record<CheckName, string[]> {
  return {
    entryPoints: checkEntryPoints(model, REGISTERED),
    runtime: checkRuntime(model, ALLOWED_RUNTIMES),
    wiring: checkEventWiring(model, WIRING),
    subscriptions: checkSubscriptions(model),
    publicPrincipals: checkNoPublicPrincipals(model),
    roles: checkIamRoles(model, ROLE_POLICY),
    secretConditions: checkSecretConditions(model),
    invokers: checkInvokers(model, WIRING.http),
    logSink: checkLogSink(model, SINK_METHODS),
  };
}

let files: HclFile[] = [];

beforeAll(async () => {
  files = (await loadInfra()).map((f) => f.json);
});

// --- Helpers that break a parsed copy ------------------------------------------------------------

function blocksOf(copy: HclFile[], kind: 'resource', type: string, name: string): Body {
  for (const f of copy) {
    const byType = f[kind];
    const byName = isRecord(byType) ? byType[type] : undefined;
    const blocks = isRecord(byName) ? byName[name] : undefined;
    if (Array.isArray(blocks) && isRecord(blocks[0])) return blocks[0];
  }
  throw new Error(`no ${type}.${name} in infra/`);
}

const resource = (copy: HclFile[], type: string, name: string) => blocksOf(copy, 'resource', type, name);

function locals(copy: HclFile[], name: string): Record<string, unknown> {
  for (const f of copy) {
    for (const l of Array.isArray(f.locals) ? f.locals : []) if (isRecord(l) && name in l) return l;
  }
  throw new Error(`no local ${name} in infra/`);
}

function variable(copy: HclFile[], name: string): Body {
  for (const f of copy) {
    const v = isRecord(f.variable) ? f.variable[name] : undefined;
    if (Array.isArray(v) && isRecord(v[0])) return v[0];
  }
  throw new Error(`no variable ${name} in infra/`);
}

function first(body: Body, blockName: string): Body {
  const b = body[blockName];
  if (Array.isArray(b) && isRecord(b[0])) return b[0];
  throw new Error(`no block ${blockName}`);
}

function eventFunction(copy: HclFile[], key: string): Body {
  const fns = locals(copy, 'event_functions').event_functions;
  if (isRecord(fns) && isRecord(fns[key])) return fns[key];
  throw new Error(`no event function ${key}`);
}

function addResource(copy: HclFile[], type: string, name: string, body: Body): void {
  const target = copy[0] as HclFile;
  const byType = (isRecord(target.resource) ? target.resource : (target.resource = {})) as Record<string, unknown>;
  const byName = (isRecord(byType[type]) ? byType[type] : (byType[type] = {})) as Record<string, unknown>;
  byName[name] = [body];
}

interface Mutation {
  name: string;
  check: CheckName;
  /** A substring of the problem the check must report. */
  expect: string;
  mutate: (copy: HclFile[]) => void;
}

const MUTATIONS: Mutation[] = [
  {
    name: 'an event function deploys a misspelt entry point',
    check: 'entryPoints',
    expect: 'meshlinkSweep is registered by the code but not deployed',
    mutate: (c) => {
      eventFunction(c, 'sweep').entry_point = 'meshlinkSwep';
    },
  },
  {
    name: 'the HTTP function deploys an entry point the code does not register',
    check: 'entryPoints',
    expect: 'entry_point meshlinkHttp is not registered',
    mutate: (c) => {
      locals(c, 'api_entry_point').api_entry_point = 'meshlinkHttp';
    },
  },
  {
    name: 'a fifth function with an unknown entry point is deployed',
    check: 'entryPoints',
    expect: 'meshlinkDebug is not registered',
    mutate: (c) => {
      addResource(c, 'google_cloudfunctions2_function', 'debug', { build_config: [{ entry_point: 'meshlinkDebug', runtime: 'nodejs24' }] });
    },
  },
  {
    name: 'the runtime variable defaults to the decommissioned nodejs20',
    check: 'runtime',
    expect: 'default "nodejs20"',
    mutate: (c) => {
      variable(c, 'runtime').default = 'nodejs20';
    },
  },
  {
    name: 'the runtime validation admits nodejs20',
    check: 'runtime',
    expect: 'validation admits nodejs20',
    mutate: (c) => {
      first(variable(c, 'runtime'), 'validation').condition = '${contains(["nodejs20", "nodejs24"], var.runtime)}';
    },
  },
  {
    name: 'the HTTP function pins a literal nodejs20',
    check: 'runtime',
    expect: 'runtime nodejs20 is not one of',
    mutate: (c) => {
      first(resource(c, 'google_cloudfunctions2_function', 'functions'), 'build_config').runtime = 'nodejs20';
    },
  },
  {
    name: 'the schedule job publishes to the rotation topic',
    check: 'wiring',
    expect: 'pushed to [meshlinkRotateLink], expected [meshlinkSweep]',
    mutate: (c) => {
      first(resource(c, 'google_cloud_scheduler_job', 'sweep'), 'pubsub_target').topic_name = '${google_pubsub_topic.feed["rotate-link"].id}';
    },
  },
  {
    name: 'the schedule job sets attempt_deadline',
    check: 'wiring',
    expect: 'attempt_deadline is ignored',
    mutate: (c) => {
      resource(c, 'google_cloud_scheduler_job', 'sweep').attempt_deadline = '320s';
    },
  },
  {
    name: 'the functions are told the schedule topic is the fan-out topic',
    check: 'wiring',
    expect: 'MESHLINK_ROTATION_TOPIC: topic google_pubsub_topic.feed["sweep"] is pushed to [meshlinkSweep], expected [meshlinkRotateLink]',
    mutate: (c) => {
      const env = locals(c, 'runtime_env').runtime_env as Body;
      env.MESHLINK_ROTATION_TOPIC = '${google_pubsub_topic.feed["sweep"].id}';
    },
  },
  {
    name: 'the log sink routes to the schedule topic',
    check: 'wiring',
    expect: 'expected [meshlinkClusterRegistration]',
    mutate: (c) => {
      resource(c, 'google_logging_project_sink', 'registration').destination = 'pubsub.googleapis.com/${google_pubsub_topic.feed["sweep"].id}';
    },
  },
  {
    name: "the sink's writer identity gets no publisher grant",
    check: 'wiring',
    expect: 'writer_identity is not granted',
    mutate: (c) => {
      resource(c, 'google_pubsub_topic_iam_member', 'registration_sink_publisher').member = 'serviceAccount:someone@example.com';
    },
  },
  {
    name: 'the push subscriptions deliver to the wrong function',
    check: 'wiring',
    expect: 'meshlinkSweep: has 0 push subscriptions',
    mutate: (c) => {
      first(resource(c, 'google_pubsub_subscription', 'push'), 'push_config').push_endpoint =
        '${google_cloudfunctions2_function.functions["rotate-link"].service_config[0].uri}/projects/${var.project_id}/topics/x';
    },
  },
  {
    name: 'an event function gets an Eventarc trigger',
    check: 'wiring',
    expect: 'has an event_trigger',
    mutate: (c) => {
      resource(c, 'google_cloudfunctions2_function', 'functions').event_trigger = [{ pubsub_topic: '${google_pubsub_topic.feed[each.key].id}' }];
    },
  },
  {
    name: 'a push subscription loses its dead_letter_policy',
    check: 'subscriptions',
    expect: 'has no dead_letter_policy',
    mutate: (c) => {
      delete resource(c, 'google_pubsub_subscription', 'push').dead_letter_policy;
    },
  },
  {
    name: 'a push subscription loses its retry_policy',
    check: 'subscriptions',
    expect: 'has no retry_policy',
    mutate: (c) => {
      delete resource(c, 'google_pubsub_subscription', 'push').retry_policy;
    },
  },
  {
    name: 'a push subscription pushes without an OIDC token',
    check: 'subscriptions',
    expect: 'push without an OIDC token',
    mutate: (c) => {
      delete first(resource(c, 'google_pubsub_subscription', 'push'), 'push_config').oidc_token;
    },
  },
  {
    name: 'the push endpoint lacks the /projects/P/topics/T path',
    check: 'subscriptions',
    expect: 'does not end in /projects/PROJECT/topics/TOPIC',
    mutate: (c) => {
      first(resource(c, 'google_pubsub_subscription', 'push'), 'push_config').push_endpoint =
        '${google_cloudfunctions2_function.functions[each.key].service_config[0].uri}';
    },
  },
  {
    name: 'the dead-letter topics have no subscription',
    check: 'subscriptions',
    expect: 'has no subscription (dead-lettered messages would be lost)',
    mutate: (c) => {
      resource(c, 'google_pubsub_subscription', 'dead_letter').topic = '${google_pubsub_topic.feed[each.key].id}';
    },
  },
  {
    name: 'the Pub/Sub service agent is not subscriber on the source subscriptions',
    check: 'subscriptions',
    expect: 'the Pub/Sub service agent is not a subscriber',
    mutate: (c) => {
      resource(c, 'google_pubsub_subscription_iam_member', 'dead_letter_subscriber').member = '${google_service_account.accounts["push"].member}';
    },
  },
  {
    name: 'a subscription expires when idle',
    check: 'subscriptions',
    expect: 'expires when idle',
    mutate: (c) => {
      delete resource(c, 'google_pubsub_subscription', 'push').expiration_policy;
    },
  },
  {
    name: 'the API is opened to allUsers',
    check: 'publicPrincipals',
    expect: 'mentions allUsers',
    mutate: (c) => {
      addResource(c, 'google_cloud_run_v2_service_iam_member', 'public', {
        name: '${google_cloudfunctions2_function.functions["api"].name}',
        role: 'roles/run.invoker',
        member: 'allUsers',
      });
    },
  },
  {
    name: 'api_invokers defaults to allAuthenticatedUsers',
    check: 'publicPrincipals',
    expect: 'mentions allAuthenticatedUsers',
    mutate: (c) => {
      variable(c, 'api_invokers').default = ['allAuthenticatedUsers'];
    },
  },
  {
    name: 'the runtime identity gets roles/container.developer',
    check: 'roles',
    expect: 'forbidden role roles/container.developer',
    mutate: (c) => {
      resource(c, 'google_project_iam_member', 'runtime_fleet_viewer').role = 'roles/container.developer';
    },
  },
  {
    name: 'the build identity gets roles/editor',
    check: 'roles',
    expect: 'role roles/editor is not on the allowlist',
    mutate: (c) => {
      resource(c, 'google_project_iam_member', 'build_log_writer').role = 'roles/editor';
    },
  },
  {
    name: 'a role is granted through a variable nobody can check',
    check: 'roles',
    expect: 'is neither a literal nor a custom role',
    mutate: (c) => {
      resource(c, 'google_project_iam_member', 'build_log_writer').role = '${var.build_role}';
    },
  },
  {
    name: 'the cluster custom role gains container.clusters.update',
    check: 'roles',
    expect: 'permission container.clusters.update is not on the allowlist',
    mutate: (c) => {
      const role = resource(c, 'google_project_iam_custom_role', 'cluster_access');
      role.permissions = [...(role.permissions as string[]), 'container.clusters.update'];
    },
  },
  {
    name: 'the claim keeper may also overwrite objects (storage.objects.update)',
    check: 'roles',
    expect: 'permission storage.objects.update is not on the allowlist',
    mutate: (c) => {
      const role = resource(c, 'google_project_iam_custom_role', 'claim_keeper');
      role.permissions = [...(role.permissions as string[]), 'storage.objects.update'];
    },
  },
  {
    name: 'the claims bucket is granted storage.admin',
    check: 'roles',
    expect: 'role roles/storage.admin is not on the allowlist',
    mutate: (c) => {
      resource(c, 'google_storage_bucket_iam_member', 'runtime_claims').role = 'roles/storage.admin';
    },
  },
  {
    name: 'invoker granted with google_cloudfunctions2_function_iam_member',
    check: 'roles',
    expect: 'google_cloud_run_v2_service_iam_member',
    mutate: (c) => {
      addResource(c, 'google_cloudfunctions2_function_iam_member', 'invoker', {
        cloud_function: '${google_cloudfunctions2_function.functions["api"].name}',
        role: 'roles/run.invoker',
        member: '${google_service_account.accounts["push"].member}',
      });
    },
  },
  {
    name: 'secret payload access is granted without the name condition',
    check: 'secretConditions',
    expect: 'is not conditioned on resource.name.startsWith',
    mutate: (c) => {
      delete resource(c, 'google_project_iam_member', 'runtime_own_secrets').condition;
    },
  },
  {
    name: 'the secret condition uses the project id instead of its number',
    check: 'secretConditions',
    expect: 'is not conditioned on resource.name.startsWith',
    mutate: (c) => {
      locals(c, 'own_secrets_condition').own_secrets_condition =
        'resource.name.startsWith("projects/${var.project_id}/secrets/${var.secret_prefix}-")';
    },
  },
  {
    name: 'the unconditioned catalog role gains payload access',
    check: 'secretConditions',
    expect: 'mixes secretmanager.secrets.create, secretmanager.secrets.list',
    mutate: (c) => {
      const role = resource(c, 'google_project_iam_custom_role', 'secret_catalog');
      role.permissions = [...(role.permissions as string[]), 'secretmanager.versions.access'];
    },
  },
  {
    name: 'secrets.create is put under the name condition, where it never applies',
    check: 'secretConditions',
    expect: 'cannot be granted under a secret-name condition',
    mutate: (c) => {
      resource(c, 'google_project_iam_member', 'runtime_secret_catalog').condition = [
        { title: 'x', expression: '${local.own_secrets_condition}' },
      ];
    },
  },
  {
    name: 'the API invokers are a hard-coded list instead of var.api_invokers',
    check: 'invokers',
    expect: 'HTTP invokers must come from var.api_invokers',
    mutate: (c) => {
      resource(c, 'google_cloud_run_v2_service_iam_member', 'api_invoker').for_each = '${toset(["user:me@example.com"])}';
    },
  },
  {
    name: 'an event function may be invoked by a user',
    check: 'invokers',
    expect: 'may only be invoked by the push service account',
    mutate: (c) => {
      resource(c, 'google_cloud_run_v2_service_iam_member', 'push_invoker').member = 'user:me@example.com';
    },
  },
  {
    name: 'the log sink filter drops operation.last=true',
    check: 'logSink',
    expect: 'does not require operation.last=true',
    mutate: (c) => {
      const l = locals(c, 'gke_registration_filter');
      l.gke_registration_filter = String(l.gke_registration_filter).replace('AND operation.last=true', '');
    },
  },
  {
    name: 'the log sink filter drops DeleteMembership',
    check: 'logSink',
    expect: 'does not select DeleteMembership',
    mutate: (c) => {
      const l = locals(c, 'fleet_registration_filter');
      l.fleet_registration_filter = String(l.fleet_registration_filter).replace(' OR "DeleteMembership"', '');
    },
  },
];

describe('infra/ as committed', () => {
  it('parses into resources, locals and variables', () => {
    const model = buildModel(files);
    expect(files.length).toBeGreaterThan(3);
    expect(model.instances.filter((i) => i.type === 'google_cloudfunctions2_function').map((i) => i.address)).toEqual(
      expect.arrayContaining(['google_cloudfunctions2_function.functions["api"]', 'google_cloudfunctions2_function.functions["sweep"]']),
    );
    expect(model.variables.runtime?.default).toBe('nodejs24');
  });

  const NAMES = Object.keys(runChecks(buildModel([]))) as CheckName[];
  it.each(NAMES)('passes check %s', (name) => {
    expect(runChecks(buildModel(files))[name]).toEqual([]);
  });
});

describe('each check reports a broken copy', () => {
  it.each(MUTATIONS)('$check: $name', ({ check, expect: problem, mutate }) => {
    const copy = structuredClone(files);
    mutate(copy);
    const problems = runChecks(buildModel(copy))[check];
    expect(problems.some((p) => p.includes(problem)), problems.join('\n') || '(no problem reported)').toBe(true);
  });

  it('every check has at least one mutation that it catches', () => {
    const covered = new Set(MUTATIONS.map((m) => m.check));
    expect(Object.keys(runChecks(buildModel([]))).filter((n) => !covered.has(n as CheckName))).toEqual([]);
  });
});
