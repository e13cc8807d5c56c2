// How the last probe shows: `meshlink check` (a failed probe or an old leaf fails the check), the
// status page's row and detail view (marked, escaped like every other value).
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { getLink } from '../../shared/app/queries.js';
import { applyLink } from '../../shared/app/provision.js';
import { linkSummary, type LinkStatus } from '../../shared/app/status.js';
import { loadLink } from '../../shared/app/link-record.js';
import { checkLine, probeCheck } from '../../shared/cli/checks.js';
import { describeLink } from '../../shared/cli/describe.js';
import type { ProbeRecord } from '../../shared/link/probe.js';
import { linkPage, statusPage } from '../../shared/ui/pages.js';
import { linkRow } from '../../shared/ui/view.js';
import { testApp } from '../support/app.js';
import { specInput } from '../support/builders.js';

const app = testApp();
let healthy: LinkStatus;
beforeAll(async () => {
  await applyLink(app.deps, specInput());
  healthy = await getLink(app.deps, 'mysql');
});

const AT = '2026-11-23T09:55:00.000Z';
const ok: ProbeRecord = { at: AT, since: AT, outcome: 'ok', target: '203.0.113.7:13306', latencyMs: 4, served: { fingerprint: 'ab'.repeat(32), notAfter: '2026-12-20T00:00:00.000Z', subject: 'CN=x', subjectAltNames: [] }, current: true };
const refused: ProbeRecord = { at: AT, since: AT, outcome: 'error', target: '203.0.113.7:13306', latencyMs: 1, error: { kind: 'refused', message: 'ECONNREFUSED: connect ECONNREFUSED 203.0.113.7:13306' } };
const oldLeaf: ProbeRecord = { ...ok, current: false };
const withProbe = (probe: ProbeRecord | undefined): LinkStatus => ({ ...healthy, ...(probe ? { probe } : {}) });

describe('meshlink check: probe', () => {
  it.each([
    ['ok', ok, 'ok', /the gateway serves the current leaf \(probed 5m ago\)/],
    ['refused', refused, 'failed', /probe of 203\.0\.113\.7:13306 failed, refused: ECONNREFUSED/],
    ['an old leaf served', oldLeaf, 'failed', /serves an older leaf than the stored one/],
    ['never probed', undefined, 'skipped', /not probed yet/],
  ])('%s', (_what, probe, status, message) => {
    const result = probeCheck(withProbe(probe), app.clock());
    expect(result).toMatchObject({ check: 'probe', subject: 'link/mysql', status });
    expect(checkLine(result)).toMatch(message);
  });
});

describe('meshlink describe link: probe', () => {
  it('says what the last probe found, and never-probed for none', () => {
    expect(describeLink(withProbe(refused), app.clock())).toMatch(/^Probe: +probe of 203\.0\.113\.7:13306 failed, refused: /m);
    expect(describeLink(withProbe(undefined), app.clock())).toMatch(/^Probe: +not probed yet$/m);
  });
});

describe('the status page: probe', () => {
  it('a row shows the verdict and marks a failed probe or an old leaf', () => {
    expect(linkRow(withProbe(ok), app.clock())).toMatchObject({ probe: { text: 'ok', healthy: true }, unhealthy: false });
    expect(linkRow(withProbe(refused), app.clock())).toMatchObject({ probe: { text: 'refused', healthy: false }, unhealthy: true });
    expect(linkRow(withProbe(oldLeaf), app.clock())).toMatchObject({ probe: { text: 'old leaf served', healthy: false }, unhealthy: true });
    expect(statusPage([withProbe(refused)], app.clock())).toMatch(/<td class="probe"><span class="bad" title="ECONNREFUSED[^"]*">refused<\/span><\/td>/);
  });

  it('the listing (state alone) carries the verdict: the same row as the full status', async () => {
    const record = (await loadLink(app.deps, 'mysql'))!;
    const summary = linkSummary('mysql', { ...record.state, probe: refused });
    expect(linkRow(summary, app.clock())).toEqual(linkRow(withProbe(refused), app.clock()));
  });

  it('the detail view shows the target, the served leaf and the error, as text', () => {
    expect(linkPage(withProbe(ok), app.clock())).toMatch(/<p id="probe"><span class="ok">ok<\/span> <code>203\.0\.113\.7:13306<\/code>/);
    fc.assert(
      fc.property(fc.string(), fc.string(), (message, target) => {
        const page = linkPage(withProbe({ ...refused, target, error: { kind: 'handshake', message } }), app.clock());
        const probe = /<p id="probe">([\s\S]*?)<\/p>/.exec(page)![1]!;
        expect([...probe.matchAll(/<\/?([A-Za-z][\w-]*)/g)].map((m) => m[1]).filter((t) => !['span', 'code', 'time'].includes(t!))).toEqual([]);
      }),
      { numRuns: 50 },
    );
  });
});
