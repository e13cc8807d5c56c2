// The Logging query evaluator the alert tests rely on: each operator, severity ranks, AND/OR/NOT,
// and the filter of the issuer and partner CA alert on the link-expiry line the sweep really writes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { putIssuerBundle } from '../../shared/app/issuers.js';
import { applyLink } from '../../shared/app/provision.js';
import { sweep } from '../../shared/app/sweep.js';
import { LOG_EVENTS } from '../../shared/log-events.js';
import { testApp } from '../support/app.js';
import { specInput } from '../support/builders.js';
import { opensslIntermediate, opensslRoot, pemBundle } from '../support/openssl-ca.js';
import { partnerPki } from '../support/partner-pki.js';
import { logMetrics } from './alert-checks.js';
import { loadInfra } from './load.js';
import { cloudRunEntry, matches, parseQuery } from './logging-query.js';
import { buildModel } from './model.js';

const entry = cloudRunEntry({ severity: 'WARNING', message: 'could not sync link side', event: 'sync-failed', link: 'mysql', daysToExpiry: 5.25, renewalDue: true, time: 'x' }, 'meshlink-api');

describe('the Logging query evaluator', () => {
  it.each([
    ['jsonPayload.event="sync-failed"', true],
    ['jsonPayload.event="sync"', false],
    ['jsonPayload.event:"sync"', true],
    ['jsonPayload.event!="sync-failed"', false],
    ['severity>=WARNING', true],
    ['severity>=ERROR', false],
    ['severity<ERROR', true],
    ['jsonPayload.daysToExpiry<7', true],
    ['jsonPayload.daysToExpiry<5', false],
    ['jsonPayload.daysToExpiry>=5.25', true],
    ['jsonPayload.renewalDue=true', true],
    ['jsonPayload.renewalDue=false', false],
    ['jsonPayload.missing="x"', false],
    ['NOT jsonPayload.missing="x"', true],
    ['resource.labels.service_name=~"^meshlink-"', true],
    ['resource.labels.service_name!~"^meshlink-"', false],
    ['resource.type="cloud_run_revision" AND jsonPayload.link="mysql"', true],
    ['resource.type="cloud_run_revision" jsonPayload.link="other"', false],
    ['jsonPayload.link="other" OR jsonPayload.link="mysql"', true],
    ['(jsonPayload.link="other" OR jsonPayload.link="mysql") AND severity=ERROR', false],
    ['jsonPayload.time="x"', false], // the timestamp is not part of the payload
  ])('%s -> %s', (query, expected) => {
    expect(matches(query, entry)).toBe(expected);
  });

  it.each(['jsonPayload.event=', 'jsonPayload.event="x', '(severity>=ERROR', 'sample(insertId, 0.5)'])('refuses %s', (query) => {
    expect(() => parseQuery(query)).toThrow();
  });

  it('A AND B is B AND A, and NOT (A OR B) is NOT A AND NOT B, on any entry', () => {
    const terms = ['jsonPayload.link="mysql"', 'severity>=ERROR', 'jsonPayload.daysToExpiry<3', 'jsonPayload.renewalDue=true'];
    const anEntry = fc.record({
      severity: fc.constantFrom('INFO', 'WARNING', 'ERROR'),
      link: fc.constantFrom('mysql', 'other'),
      daysToExpiry: fc.double({ min: -5, max: 30, noNaN: true }),
      renewalDue: fc.boolean(),
    });
    fc.assert(
      fc.property(anEntry, fc.constantFrom(...terms), fc.constantFrom(...terms), (line, a, b) => {
        const e = cloudRunEntry(line, 'meshlink-api');
        expect(matches(`${a} AND ${b}`, e)).toBe(matches(`${b} AND ${a}`, e));
        expect(matches(`NOT (${a} OR ${b})`, e)).toBe(!matches(a, e) && !matches(b, e));
      }),
    );
  });
});

describe('the issuer and partner CA filters on the line the sweep writes', () => {
  it('match a link-expiry line whose issuer chain or partner CA is near expiry, and not one far from it', async () => {
    const app = testApp({ start: new Date(Date.now() + 60_000).toISOString() });
    const root = opensslRoot('/CN=Query Root');
    await putIssuerBundle(app.deps, 'corp', pemBundle(opensslIntermediate(root, '/CN=Query Mesh CA', { days: 20 }), root));
    await applyLink(app.deps, specInput({ issuer: 'corp' }));
    const partner = partnerPki({ days: 400 });
    try {
      await applyLink(app.deps, specInput({ server: { external: { address: '192.0.2.10', port: 5432, caCertificates: partner.ca.pem, subjectAltNames: ['db.partner.example'] } } }, 'partner'));
    } finally {
      partner.remove();
    }
    await sweep(app.deps, { enqueue: async () => undefined });
    const lines = app.log.lines.filter((l) => l.event === LOG_EVENTS.linkExpiry);
    const line = (link: string) => cloudRunEntry(lines.find((l) => l.link === link)!, 'meshlink-sweep');
    expect(line('mysql').jsonPayload).toMatchObject({ issuerCaDaysToExpiry: expect.any(Number) });
    expect(line('partner').jsonPayload).toMatchObject({ partnerCaDaysToExpiry: expect.any(Number) });
    const model = buildModel((await loadInfra()).map((f) => f.json));
    const filter = (key: string) => logMetrics(model).metrics.find((m) => m.key === key)!.filter;
    // A 20-day chain is within the default 30 days; a 400-day partner CA is not; neither line has the other's field.
    expect([matches(filter('issuer-ca-expiring'), line('mysql')), matches(filter('issuer-ca-expiring'), line('partner'))]).toEqual([true, false]);
    expect([matches(filter('partner-ca-expiring'), line('partner')), matches(filter('partner-ca-expiring'), line('mysql'))]).toEqual([false, false]);
    expect(matches('jsonPayload.partnerCaDaysToExpiry<401', line('partner'))).toBe(true);
  });
});

