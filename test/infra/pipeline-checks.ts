// Pure checks of cloudbuild.yaml: tests run before the build and the deploy, and the deploy feeds Terraform only declared variables.
import { isRecord } from './model.js';

interface Step {
  id?: unknown;
  name?: unknown;
  entrypoint?: unknown;
  args?: unknown;
  dir?: unknown;
  env?: unknown;
  waitFor?: unknown;
}

function steps(doc: unknown): Step[] {
  return isRecord(doc) && Array.isArray(doc.steps) ? doc.steps.filter(isRecord) : [];
}

const words = (s: Step) => [typeof s.entrypoint === 'string' ? s.entrypoint : '', ...(Array.isArray(s.args) ? s.args.map(String) : [])];

/** The image a step runs, with user substitutions filled in from their defaults. */
function image(s: Step, subs: Record<string, unknown>): string {
  return String(s.name ?? '').replace(/\$\{(_[A-Z0-9_]+)\}/g, (all, k: string) => String(subs[k] ?? all));
}

/** The stage a step performs, recognised by its command line. */
function stage(s: Step, subs: Record<string, unknown>): string | undefined {
  const [cmd, ...args] = words(s);
  if (cmd === 'npm' && args[0] === 'ci') return 'install';
  if (cmd === 'npm' && args[0] === 'test') return 'test';
  if (cmd === 'npm' && args[0] === 'run' && args[1] === 'build') return 'build';
  if (cmd === '' && image(s, subs).includes('terraform') && (args[0] === 'init' || args[0] === 'apply')) return `terraform-${args[0]}`;
  return undefined;
}

function substitutions(doc: unknown): Record<string, unknown> {
  return isRecord(doc) && isRecord(doc.substitutions) ? doc.substitutions : {};
}

const ORDER = ['install', 'test', 'build', 'terraform-init', 'terraform-apply'];

/**
 * npm ci, npm test, npm run build, terraform init, terraform apply appear once each, in that
 * order, strictly one after another; Terraform runs in infra/ with the state bucket substitution.
 */
export function checkPipelineOrder(doc: unknown): string[] {
  const problems: string[] = [];
  const all = steps(doc);
  const subs = substitutions(doc);
  if (all.length === 0) return ['cloudbuild.yaml has no steps'];
  const positions = ORDER.map((st) => all.flatMap((s, i) => (stage(s, subs) === st ? [i] : [])));
  ORDER.forEach((st, k) => {
    const at = positions[k] ?? [];
    if (at.length !== 1) problems.push(`stage ${st} appears ${at.length} times, expected once`);
  });
  for (let k = 1; k < ORDER.length; k++) {
    const before = positions[k - 1]?.[0];
    const after = positions[k]?.[0];
    if (before !== undefined && after !== undefined && before > after) problems.push(`${ORDER[k - 1]} must run before ${ORDER[k]}`);
  }
  for (const s of all) {
    if (s.waitFor !== undefined) problems.push(`step ${String(s.id)}: waitFor would let steps run out of order`);
    const st = stage(s, subs);
    if (st?.startsWith('terraform') && s.dir !== 'infra') problems.push(`step ${String(s.id)}: Terraform must run in infra/`);
  }
  const init = all.find((s) => stage(s, subs) === 'terraform-init');
  if (init && !words(init).some((w) => w === '-backend-config=bucket=${_TF_STATE_BUCKET}')) {
    problems.push('terraform init does not take the state bucket from _TF_STATE_BUCKET');
  }
  return problems;
}

/** Every user substitution used is defined, and every TF_VAR_ passed is a declared variable. */
export function checkPipelineInputs(doc: unknown, raw: string, declared: readonly string[]): string[] {
  const problems: string[] = [];
  const defined = Object.keys(substitutions(doc));
  const body = raw.split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n');
  for (const m of new Set([...body.matchAll(/\$\{(_[A-Z0-9_]+)\}|\$(_[A-Z0-9_]+)/g)].map((x) => x[1] ?? x[2]))) {
    if (m && !defined.includes(m)) problems.push(`substitution ${m} is used but not defined`);
  }
  for (const s of steps(doc)) {
    for (const e of Array.isArray(s.env) ? s.env.map(String) : []) {
      const v = /^TF_VAR_([\w-]+)=/.exec(e)?.[1];
      if (v && !declared.includes(v)) problems.push(`step ${String(s.id)}: TF_VAR_${v} is not a variable of infra/`);
    }
  }
  return problems;
}
