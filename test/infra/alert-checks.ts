// Pure checks of infra/alerts.tf: the log-based metrics' filters against log entries the code
// wrote, and the alert policies' wiring. Each returns the problems it finds (none: it passes).
import { matches, parseQuery, type LogEntry } from './logging-query.js';
import { instancesOf, isRecord, path, strings, type Body, type InfraModel, type Instance } from './model.js';

const METRIC = 'google_logging_metric';
const POLICY = 'google_monitoring_alert_policy';

/** A string with `${var.X}` (the variable's default) and `${local.Y}` (a string local) put in; undefined if something else is left. */
export function interpolate(model: InfraModel, text: string, depth = 0): string | undefined {
  if (depth > 10) return undefined;
  let unresolved = false;
  const out = text.replace(/\$\{(var|local)\.([\w-]+)\}/g, (all, kind: string, name: string) => {
    const v = kind === 'var' ? model.variables[name]?.default : model.locals[name];
    const s = typeof v === 'string' ? interpolate(model, v, depth + 1) : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
    if (s === undefined) unresolved = true;
    return s ?? all;
  });
  return unresolved || out.includes('${') ? undefined : out;
}

export interface LogMetric {
  key: string;
  address: string;
  filter: string;
}

/** The log-based metrics with their filters as Cloud Logging receives them (variable defaults in). */
export function logMetrics(model: InfraModel): { metrics: LogMetric[]; problems: string[] } {
  const metrics: LogMetric[] = [];
  const problems: string[] = [];
  for (const m of instancesOf(model, METRIC)) {
    const raw = m.body.filter;
    const filter = typeof raw === 'string' ? interpolate(model, raw) : undefined;
    if (filter === undefined) problems.push(`${m.address}: filter ${JSON.stringify(raw)} cannot be resolved statically`);
    else metrics.push({ key: m.key ?? m.name, address: m.address, filter });
  }
  if (metrics.length === 0 && problems.length === 0) problems.push(`no ${METRIC} is defined`);
  return { metrics, problems };
}

const EVENT_TERM = /jsonPayload\.event\s*=\s*"([^"]+)"/g;

/**
 * Every metric's filter parses, names events of the code's list (`jsonPayload.event="..."`),
 * and selects at least one of the entries the code wrote.
 */
export function checkMetricFilters(model: InfraModel, events: readonly string[], entries: readonly LogEntry[]): string[] {
  const { metrics, problems } = logMetrics(model);
  for (const m of metrics) {
    try {
      parseQuery(m.filter);
    } catch (err) {
      problems.push(`${m.address}: filter is outside the checked subset of the query language: ${(err as Error).message}`);
      continue;
    }
    const named = [...m.filter.matchAll(EVENT_TERM)].map((x) => x[1]!);
    if (named.length === 0) problems.push(`${m.address}: filter names no jsonPayload.event`);
    for (const e of named) if (!events.includes(e)) problems.push(`${m.address}: event ${e} is not one the code logs (shared/log-events.ts)`);
    if (!entries.some((entry) => matches(m.filter, entry))) problems.push(`${m.address}: filter matches no log line the code wrote`);
  }
  return problems;
}

interface Condition {
  policy: string;
  kind: 'threshold' | 'absent';
  metric?: string;
}

/** A policy's conditions: its `conditions` blocks, or the entries of a `dynamic "conditions"` (for_each expanded). */
function conditionsOf(p: Instance): Condition[] {
  const out: Condition[] = [];
  const list = p.body.conditions;
  for (const c of Array.isArray(list) ? list : []) {
    if (!isRecord(c)) continue;
    const kind = 'condition_absent' in c ? 'absent' : 'threshold';
    const filter = strings(path(c, kind === 'absent' ? 'condition_absent' : 'condition_threshold', 'filter')).join(' ');
    const metric = /^\$\{local\.metric_filter\["([^"]+)"\]\}$/.exec(filter)?.[1];
    out.push({ policy: p.address, kind, ...(metric ? { metric } : {}) });
  }
  const dyn = path(p.body, 'dynamic', 'conditions');
  if (!isRecord(dyn)) return out;
  // Each entry names its metric; the content must filter on it: local.metric_filter[<iterator>.value.metric].
  const iterator = typeof dyn.iterator === 'string' ? dyn.iterator.replace(/^\$\{(.*)\}$/, '$1') : 'conditions';
  const wired = (block: string) => strings(path(dyn, 'content', 'dynamic', block, 'content', 'filter')).join(' ') === `\${local.metric_filter[${iterator}.value.metric]}`;
  for (const e of Array.isArray(dyn.for_each) ? dyn.for_each : []) {
    if (!isRecord(e)) continue;
    const kind = 'absent_for' in e ? 'absent' : 'threshold';
    const metric = wired(kind === 'absent' ? 'condition_absent' : 'condition_threshold') && typeof e.metric === 'string' ? e.metric : undefined;
    out.push({ policy: p.address, kind, ...(metric ? { metric } : {}) });
  }
  return out;
}

/** Each policy condition and the metric key its filter names (`local.metric_filter["KEY"]`). */
function conditions(model: InfraModel): Condition[] {
  return instancesOf(model, POLICY).flatMap(conditionsOf);
}

/**
 * Every policy notifies var.alert_notification_channels and conditions only on metrics of this
 * configuration (through local.metric_filter, which names their metric type); every metric has a policy.
 */
export function checkAlertPolicies(model: InfraModel): string[] {
  const problems: string[] = [];
  const policies = instancesOf(model, POLICY);
  if (policies.length === 0) problems.push(`no ${POLICY} is defined`);
  for (const p of policies) {
    if (p.body.notification_channels !== '${var.alert_notification_channels}') problems.push(`${p.address}: does not notify var.alert_notification_channels`);
    if (conditionsOf(p).length === 0) problems.push(`${p.address}: has no condition`);
  }
  const metricFilter = strings(model.locals.metric_filter).join(' ');
  if (!/logging\.googleapis\.com\/user\/\$\{m\.name\}/.test(metricFilter) || !metricFilter.includes('google_logging_metric.events')) {
    problems.push('local.metric_filter does not name the user metric type of google_logging_metric.events');
  }
  const keys = new Set(instancesOf(model, METRIC).map((m) => m.key ?? m.name));
  const used = new Set<string>();
  for (const c of conditions(model)) {
    if (!c.metric) problems.push(`${c.policy}: a condition does not filter on local.metric_filter["..."]`);
    else if (!keys.has(c.metric)) problems.push(`${c.policy}: a condition names metric ${c.metric}, which is not defined`);
    else used.add(c.metric);
  }
  for (const k of keys) if (!used.has(k)) problems.push(`${METRIC}.events["${k}"]: no alert policy uses it`);
  return problems;
}

/** Metrics alerted on when they count something, as opposed to when they count nothing (condition_absent). */
function presenceMetrics(model: InfraModel): Set<string> {
  return new Set(conditions(model).filter((c) => c.kind === 'threshold' && c.metric).map((c) => c.metric!));
}

/** A healthy run pages nobody: no presence-alerted metric selects any of its entries. */
export function checkQuietWhenHealthy(model: InfraModel, healthy: readonly LogEntry[]): string[] {
  const alerted = presenceMetrics(model);
  return logMetrics(model)
    .metrics.filter((m) => alerted.has(m.key))
    .flatMap((m) => {
      const hit = healthy.find((entry) => matches(m.filter, entry));
      return hit ? [`${m.address}: matches a line of a healthy run: ${JSON.stringify((hit.jsonPayload as Body | undefined)?.message)}`] : [];
    });
}

const INFO_OR_LOWER = ['debug', 'info', 'DEBUG', 'INFO'];

/** The functions log at INFO or lower by default: the link-expiry lines the expiry alerts count are INFO. */
export function checkLogLevelForAlerts(model: InfraModel): string[] {
  const def = model.variables.log_level?.default;
  return typeof def === 'string' && INFO_OR_LOWER.includes(def) ? [] : [`variable log_level: default ${JSON.stringify(def)} drops the INFO link-expiry lines the expiry alerts count`];
}
