// infra/alerts.tf against the code: every log-based metric's filter selects log lines the code
// really writes (event names from shared/log-events.ts), a healthy run pages nobody, every policy
// is wired to its metric and the notification channels, and each check catches a broken copy.
import { beforeAll, describe, expect, it } from 'vitest';
import { handleRotateLinkEvent, handleSweepEvent } from '../../functions/rotation.js';
import { loadLink } from '../../shared/app/link-record.js';
import { applyLink } from '../../shared/app/provision.js';
import { InProcessRotationQueue } from '../../shared/queue/in-process-rotation-queue.js';
import { type RotationQueue } from '../../shared/queue/port.js';
import { sweep } from '../../shared/app/sweep.js';
import { MeshlinkError } from '../../shared/errors.js';
import { LOG_EVENTS } from '../../shared/log-events.js';
import type { Prober } from '../../shared/probe/port.js';
import type { SecretStore } from '../../shared/store/port.js';
import { testApp, type TestApp } from '../support/app.js';
import { specInput, withField } from '../support/builders.js';
import { makeSpecUnreadable } from '../support/unreadable-spec.js';
import { checkAlertPolicies, checkLogLevelForAlerts, checkMetricFilters, checkQuietWhenHealthy, logMetrics } from './alert-checks.js';
import { loadInfra } from './load.js';
import { cloudRunEntry, matches, type LogEntry } from './logging-query.js';
import { putIssuerBundle } from '../../shared/app/issuers.js';
import { opensslIntermediate, opensslRoot, pemBundle } from '../support/openssl-ca.js';
import { partnerPki } from '../support/partner-pki.js';
import { buildModel, isRecord, type HclFile, type InfraModel } from './model.js';

const DAY = 86_400_000;
const EVENTS = Object.values(LOG_EVENTS);
const idle: RotationQueue = { enqueue: async () => {} };

const link = (name: string, port: number, overrides: Record<string, unknown> = {}) => withField(specInput(overrides, name), 'server.gatewayPort', port);
/** A probe that finds nothing listening, and one that finds the current leaf served (no network: the adapter is tested in test/probe/). */
const refusingProber: Prober = { probe: async () => ({ ok: false, error: { kind: 'refused', message: 'ECONNREFUSED' }, latencyMs: 1 }) };
const servingProber = (fingerprint: () => Promise<string>): Prober => ({
  probe: async () => ({ ok: true, latencyMs: 1, served: { fingerprint: await fingerprint(), notAfter: '2030-01-01T00:00:00.000Z', subject: 'CN=x', subjectAltNames: [] } }),
});
const ADDRESS = { server: { cluster: 'server-cluster', service: 'mysql.default.svc.cluster.local', port: 3306, address: '203.0.113.7' } };

/** What Cloud Logging would hold of a test app's lines, as written by the functions of the default prefix. */
function entries(app: TestApp, service: string): LogEntry[] {
  return app.log.lines.map((l) => cloudRunEntry(l, service));
}

/** A day of trouble: a cluster down, a link whose rotation fails, leaves and a CA past renewal, a sweep that fails. */
async function troubledRun(service: string): Promise<LogEntry[]> {
  const app = testApp();
  app.clusters.target('down-cluster').failure = new MeshlinkError('unavailable', 'cluster down-cluster is not answering');
  await applyLink(app.deps, link('down', 20001, { server: { cluster: 'down-cluster', service: 'mysql.default.svc.cluster.local', port: 3306 } }));
  await applyLink(app.deps, link('expiring', 20002));
  await applyLink(app.deps, link('short-ca', 20003, { certificates: { leafTtl: '10d', caTtl: '30d' } }));
  await applyLink(app.deps, link('unreadable', 20004));
  await applyLink(app.deps, link('unreachable', 20005, ADDRESS));
  app.deps.prober = refusingProber;
  app.clock.advance(25 * DAY); // the workers never ran: renewals are overdue
  await sweep(app.deps, idle);
  await makeSpecUnreadable(app.store, (await loadLink(app.deps, 'unreadable'))!.secretId);
  await sweep(app.deps, new InProcessRotationQueue(app.deps));
  const message = { data: { message: { data: Buffer.from(JSON.stringify({ link: 'unreadable', reason: 'NearingExpiry' })).toString('base64') } } };
  await handleRotateLinkEvent(app.deps, message);
  const failing = new Proxy(app.deps.store, { get: () => () => Promise.reject(new MeshlinkError('internal', 'listing broke')) }) as SecretStore;
  await handleSweepEvent({ ...app.deps, store: failing }, idle);
  return entries(app, service);
}

/**
 * Links on CAs meshlink does not renew, `days` before the sweep: one under an issuer whose issuing
 * chain (openssl-made) ends `chainDays` after it is made, one facing a partner whose CA does too.
 */
async function foreignCaRun(service: string, chainDays: number, sweepAfterDays: number): Promise<LogEntry[]> {
  // A minute ahead of the openssl certificates, which start the second they are made.
  const app = testApp({ start: new Date(Date.now() + 60_000).toISOString() });
  const root = opensslRoot('/CN=Alert Root', { days: 3650 });
  await putIssuerBundle(app.deps, 'corp', pemBundle(opensslIntermediate(root, '/CN=Alert Mesh CA', { days: chainDays }), root));
  await applyLink(app.deps, link('issuer-ca', 20011, { issuer: 'corp' }));
  const partner = partnerPki({ days: chainDays });
  try {
    await applyLink(app.deps, specInput({ server: { external: { address: '192.0.2.10', port: 5432, caCertificates: partner.ca.pem, subjectAltNames: ['db.partner.example'] } } }, 'partner-ca'));
  } finally {
    partner.remove();
  }
  app.clock.advance(sweepAfterDays * DAY);
  await sweep(app.deps, new InProcessRotationQueue(app.deps));
  return entries(app, service);
}

/** Weeks of a healthy link: sweeps, one renewal on time, syncs. */
async function healthyRun(service: string): Promise<LogEntry[]> {
  const app = testApp();
  await applyLink(app.deps, link('mysql', 20001, ADDRESS));
  app.deps.prober = servingProber(async () => (await loadLink(app.deps, 'mysql'))!.state.leaves.server!.fingerprint);
  const queue = new InProcessRotationQueue(app.deps);
  for (let day = 0; day < 45; day += 1) {
    app.clock.advance(DAY);
    await sweep(app.deps, queue);
  }
  return entries(app, service);
}

let model: InfraModel;
let files: HclFile[];
let service: string;
let troubled: LogEntry[];
let healthy: LogEntry[];

beforeAll(async () => {
  files = (await loadInfra()).map((f) => f.json);
  model = buildModel(files);
  service = `${String(model.variables.prefix?.default)}-sweep`;
  // Chains of 40 days, 25 days on; of 400 days (healthy), 5 days on.
  troubled = [...(await troubledRun(service)), ...(await foreignCaRun(service, 40, 25))];
  healthy = [...(await healthyRun(service)), ...(await foreignCaRun(service, 400, 5))];
});

describe('the alerts in infra/alerts.tf', () => {
  it('count events the code logs: every metric filter selects a line the code wrote', () => {
    expect(checkMetricFilters(model, EVENTS, troubled)).toEqual([]);
  });

  it('page nobody on a healthy run (renewals on time included)', () => {
    expect(healthy.some((e) => (e.jsonPayload as Record<string, unknown>).event === LOG_EVENTS.linkExpiry)).toBe(true);
    // The healthy run's issuer and partner lines carry the days the alerts compare.
    const payloads = healthy.map((e) => e.jsonPayload as Record<string, unknown>);
    expect(payloads.some((p) => typeof p.issuerCaDaysToExpiry === 'number') && payloads.some((p) => typeof p.partnerCaDaysToExpiry === 'number')).toBe(true);
    expect(checkQuietWhenHealthy(model, healthy)).toEqual([]);
  });

  it('are wired: every policy conditions on a metric of its own and notifies the configured channels', () => {
    expect(checkAlertPolicies(model)).toEqual([]);
    expect(checkLogLevelForAlerts(model)).toEqual([]);
  });

  it.each([
    ['rotation-failed', ['unreadable']],
    ['sync-failed', ['down']],
    ['leaf-expiring', ['expiring']],
    // The link CA under the 40-day chain ends with it: near expiry too.
    ['ca-expiring', ['short-ca', 'issuer-ca']],
    ['issuer-ca-expiring', ['issuer-ca']],
    ['partner-ca-expiring', ['partner-ca']],
    ['probe-failed', ['unreachable']],
  ])('%s selects the lines of links %j and no line of other links', (key, names) => {
    const metric = logMetrics(model).metrics.find((m) => m.key === key)!;
    const links = new Set(troubled.filter((e) => matches(metric.filter, e)).map((e) => (e.jsonPayload as Record<string, unknown>).link));
    for (const name of names) expect(links.has(name)).toBe(true);
    if (key !== 'leaf-expiring') expect([...links].sort()).toEqual([...names].sort());
  });

  it('do not select another service’s lines', () => {
    const other = troubled.map((e) => ({ ...e, resource: { type: 'cloud_run_revision', labels: { service_name: 'someone-else' } } }));
    expect(logMetrics(model).metrics.filter((m) => other.some((e) => matches(m.filter, e)))).toEqual([]);
  });
});

// --- Each check catches a broken copy ------------------------------------------------------------

function copyWith(mutate: (copy: HclFile[]) => void): InfraModel {
  const copy = structuredClone(files);
  mutate(copy);
  return buildModel(copy);
}

function local<T>(copy: HclFile[], name: string): T {
  for (const f of copy) for (const l of Array.isArray(f.locals) ? f.locals : []) if (isRecord(l) && isRecord(l[name])) return l[name] as T;
  throw new Error(`no local ${name}`);
}

const logMetricsLocal = (copy: HclFile[]) => local<Record<string, { filter: string }>>(copy, 'log_metrics');
const alertPoliciesLocal = (copy: HclFile[]) => local<Record<string, { conditions: { metric: string }[] }>>(copy, 'alert_policies');

function policies(copy: HclFile[]): Record<string, unknown> {
  for (const f of copy) {
    const p = isRecord(f.resource) && isRecord(f.resource.google_monitoring_alert_policy) ? f.resource.google_monitoring_alert_policy.alerts : undefined;
    if (Array.isArray(p) && isRecord(p[0])) return p[0];
  }
  throw new Error('no google_monitoring_alert_policy.alerts');
}

describe('the alert checks on broken copies', () => {
  it('an event renamed in the code: the filter matches no line any more', () => {
    const renamed = troubled.map((e) => {
      const p = e.jsonPayload as Record<string, unknown>;
      return p.event === LOG_EVENTS.rotationFailed ? { ...e, jsonPayload: { ...p, event: 'rotation-failure' } } : e;
    });
    expect(checkMetricFilters(model, EVENTS, renamed)).toEqual([expect.stringMatching(/events\["rotation-failed"\]: filter matches no log line/)]);
  });

  it('an event renamed in the filter: not an event of the code, and it matches nothing', () => {
    const broken = copyWith((c) => {
      const m = logMetricsLocal(c)['sync-failed']!;
      m.filter = m.filter.replace('"sync-failed"', '"sync-failure"');
    });
    expect(checkMetricFilters(broken, EVENTS, troubled)).toEqual([expect.stringMatching(/sync-failure is not one the code logs/), expect.stringMatching(/sync-failed"\]: filter matches no log line/)]);
  });

  it('a threshold on the wrong side: the healthy run would page', () => {
    const broken = copyWith((c) => {
      const m = logMetricsLocal(c)['leaf-expiring']!;
      m.filter = m.filter.replace('renewalDue=true', 'renewalDue=false').replace('daysToExpiry<', 'daysToExpiry>');
    });
    expect(checkQuietWhenHealthy(broken, healthy)).toEqual([expect.stringMatching(/leaf-expiring/)]);
  });

  it('a filter outside the checked subset of the query language', () => {
    const broken = copyWith((c) => {
      logMetricsLocal(c)['sweep-done']!.filter += ' AND sample(insertId, 0.5)';
    });
    expect(checkMetricFilters(broken, EVENTS, troubled)).toEqual([expect.stringMatching(/sweep-done"\]: filter is outside the checked subset/)]);
  });

  it('policies without the notification channels, a condition on an undefined metric, a metric nobody alerts on', () => {
    const broken = copyWith((c) => {
      delete policies(c).notification_channels;
      alertPoliciesLocal(c).sync_failed!.conditions[0]!.metric = 'sync-failure';
    });
    const problems = checkAlertPolicies(broken);
    expect(problems.filter((p) => /does not notify/.test(p))).toEqual(Object.keys(alertPoliciesLocal(files)).sort().map((k) => `google_monitoring_alert_policy.alerts["${k}"]: does not notify var.alert_notification_channels`));
    expect(problems.filter((p) => !/does not notify/.test(p))).toEqual([
      expect.stringMatching(/alerts\["sync_failed"\]: a condition names metric sync-failure/),
      expect.stringMatching(/events\["sync-failed"\]: no alert policy uses it/),
    ]);
  });

  it('a condition whose filter is not its entry\'s metric', () => {
    const broken = copyWith((c) => {
      const conditions = (policies(c).dynamic as Record<string, Record<string, unknown>[]>).conditions![0]!;
      const threshold = ((conditions.content as Record<string, unknown>[])[0]!.dynamic as Record<string, Record<string, unknown>[]>).condition_threshold![0]!;
      (threshold.content as Record<string, unknown>[])[0]!.filter = '${local.metric_filter["sweep-failed"]}';
    });
    expect(checkAlertPolicies(broken)).toEqual(expect.arrayContaining([expect.stringMatching(/alerts\["rotation_failed"\]: a condition does not filter on local.metric_filter/)]));
  });

  it('a log level that drops the expiry lines', () => {
    const broken = copyWith((c) => {
      for (const f of c) if (isRecord(f.variable) && Array.isArray(f.variable.log_level)) (f.variable.log_level[0] as Record<string, unknown>).default = 'warn';
    });
    expect(checkLogLevelForAlerts(broken)).toEqual([expect.stringMatching(/drops the INFO link-expiry lines/)]);
  });
});
