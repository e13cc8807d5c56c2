// The Logging query evaluator the alert tests rely on: each operator, severity ranks, AND/OR/NOT.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloudRunEntry, matches, parseQuery } from './logging-query.js';

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
