// The status page's pure rendering: escaping, the view of a link, the timeline's geometry, the
// policy that lets the page's own stylesheet through, and the routes' answers.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { handleApiRequest } from '../../functions/http-api.js';
import { uiRoutes } from '../../functions/ui.js';
import { applyLink } from '../../shared/app/provision.js';
import { getLink } from '../../shared/app/queries.js';
import { loadLink } from '../../shared/app/link-record.js';
import { linkSummary, type LinkStatus } from '../../shared/app/status.js';
import { MeshlinkError } from '../../shared/errors.js';
import { escapeHtml, html } from '../../shared/ui/html.js';
import { linkPage, PAGE_HEADERS, statusPage } from '../../shared/ui/pages.js';
import { formatTime, relativeTime } from '../../shared/ui/time.js';
import { timelineSvg } from '../../shared/ui/timeline.js';
import { linkRow, timelineEvents } from '../../shared/ui/view.js';
import { testApp } from '../support/app.js';
import { specInput, withField } from '../support/builders.js';

const DAY = 86_400_000;
const app = testApp();
let healthy: LinkStatus;
let broken: LinkStatus;

beforeAll(async () => {
  await applyLink(app.deps, specInput({}, 'mysql'));
  app.clusters.target('down').failure = new MeshlinkError('unavailable', 'cluster down is not answering');
  await applyLink(app.deps, withField(specInput({ server: { cluster: 'down', service: 'pg.default.svc.cluster.local', port: 5432 } }, 'pg'), 'server.gatewayPort', 15433));
  healthy = await getLink(app.deps, 'mysql');
  broken = await getLink(app.deps, 'pg');
});

const TAGS = new Set(['!DOCTYPE', 'html', 'head', 'meta', 'link', 'title', 'style', 'body', 'p', 'span', 'h1', 'h2', 'a', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'time', 'code', 'pre', 'svg', 'g', 'line', 'text', 'circle', 'path']);
const tagsOf = (markup: string) => new Set([...markup.matchAll(/<\/?(!?[A-Za-z][\w-]*)/g)].map((m) => m[1]!));
const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

describe('html', () => {
  it('escapes any interpolated text, in content and in attributes, and gives it back on decoding', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = html`<td title="${s}">${s}</td>`.markup;
        expect(tagsOf(out)).toEqual(new Set(['td']));
        expect(out.slice(out.indexOf('>') + 1, out.lastIndexOf('<'))).toBe(escapeHtml(s));
        expect(unescape(escapeHtml(s))).toBe(s);
        expect(/"/.test(escapeHtml(s))).toBe(false);
      }),
    );
  });

  it('keeps markup built by html, and arrays of it', () => {
    expect(html`<p>${[html`<b>${'<i>'}</b>`, '<i>']}</p>`.markup).toBe('<p><b>&lt;i&gt;</b>&lt;i&gt;</p>');
  });
});

describe('the pages with markup in any status field', () => {
  it('show it as text: no tag but the page’s own', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (text, cluster, error) => {
        const status: LinkStatus = { ...broken, name: text, host: text, lastError: error, client: { ...broken.client, cluster }, spec: { host: text }, issuer: { name: text, rootFingerprints: [] }, rotation: { ...broken.rotation, next: { step: text, reason: error } } } as LinkStatus;
        for (const page of [statusPage([healthy, status], app.clock()), linkPage(status, app.clock())]) {
          expect([...tagsOf(page)].filter((t) => !TAGS.has(t))).toEqual([]);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('are allowed their own stylesheet by the policy, and nothing else', () => {
    const page = statusPage([healthy, broken], app.clock());
    const css = /<style>([\s\S]*?)<\/style>/.exec(page)![1]!;
    const hash = createHash('sha256').update(css).digest('base64');
    expect(PAGE_HEADERS['content-security-policy']).toContain(`style-src 'sha256-${hash}'`);
    expect(PAGE_HEADERS['content-security-policy']).toMatch(/^default-src 'none';/);
    expect(page).not.toMatch(/<script|\sstyle=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });
});

describe('a link as a row', () => {
  it('shows its clusters, its own CA, sync, and the earliest leaf expiry', () => {
    expect(linkRow(healthy, app.clock())).toMatchObject({
      name: 'mysql',
      sides: [
        { side: 'client', kind: 'cluster', name: 'client-cluster', synced: true },
        { side: 'server', kind: 'cluster', name: 'server-cluster', synced: true },
      ],
      synced: true,
      issuer: 'own CA',
      caGeneration: 1,
      leafExpiry: [healthy.server.notAfter!, healthy.client.notAfter!].sort()[0],
      unhealthy: false,
    });
    expect(linkRow(healthy, app.clock()).lastError).toBeUndefined();
  });

  it('marks a side not synced, with the error', () => {
    expect(linkRow(broken, app.clock())).toMatchObject({ synced: false, unhealthy: true, lastError: expect.stringMatching(/cluster down is not answering/) });
  });

  it('marks a renewal overdue', () => {
    expect(linkRow(healthy, new Date(new Date(healthy.nextRenewal!).getTime() + 1)).unhealthy).toBe(true);
  });

  it('shows an external issuer and a partner side when a status names them', () => {
    const row = linkRow({ ...healthy, issuer: { name: 'cas-prod', rootFingerprints: [] }, server: { ...healthy.server, partner: { name: 'acme-bank' } } } as unknown as LinkStatus, app.clock());
    expect(row.issuer).toBe('cas-prod');
    expect(row.sides[1]).toMatchObject({ kind: 'partner', name: 'acme-bank' });
  });
});

describe('the timeline', () => {
  const now = new Date('2026-11-23T10:00:00Z');
  const at = (days: number) => new Date(now.getTime() + days * DAY).toISOString();
  const xOf = (svg: string, kind: string) => Number(new RegExp(`data-kind="${kind}"><title>[^<]*</title><(?:circle cx="|path d="M)([\\d.]+)`).exec(svg)![1]);

  it('draws renewals before expiries in time order, pins what is past to now and what is far to the edge', () => {
    const svg = timelineSvg(
      [
        { link: 'a', kind: 'renewal', at: at(-1), label: 'next renewal' },
        { link: 'a', kind: 'leaf-expiry', at: at(10), label: 'client certificate expires' },
        { link: 'b', kind: 'renewal', at: at(5), label: 'next renewal' },
        { link: 'a', kind: 'ca-expiry', at: at(365), label: 'CA generation 1 expires' },
      ],
      now,
    ).markup;
    expect(svg).toMatch(/class="event renewal overdue" data-link="a"/);
    expect(svg).toMatch(/class="event ca-expiry beyond"/);
    expect(xOf(svg, 'renewal')).toBe(200);
    expect(xOf(svg, 'leaf-expiry')).toBeGreaterThan(200);
    expect(xOf(svg, 'ca-expiry')).toBeCloseTo(936, 0);
    expect((svg.match(/class="tick"/g) ?? []).length).toBeLessThanOrEqual(8);
    expect((svg.match(/class="lane"/g) ?? []).length).toBe(2);
  });

  it('has an event per renewal, leaf and newest CA of each link', () => {
    expect(timelineEvents([healthy]).map((e) => e.kind).sort()).toEqual(['ca-expiry', 'leaf-expiry', 'leaf-expiry', 'renewal']);
    expect(timelineSvg([], now).markup).toMatch(/nothing to renew/);
  });
});

describe('times', () => {
  const now = new Date('2026-11-23T10:00:00Z');
  it.each([
    ['2026-11-23T10:12:00Z', 'in 12m'],
    ['2026-11-23T13:30:00Z', 'in 3h 30m'],
    ['2026-11-26T14:00:00Z', 'in 3d 4h'],
    ['2026-11-23T08:00:00Z', '2h ago'],
  ])('%s is %s', (iso, text) => {
    expect(relativeTime(iso, now)).toBe(text);
  });
  it('formats UTC to the minute', () => {
    expect(formatTime('2026-12-23T10:00:59.999Z')).toBe('2026-12-23 10:00 UTC');
  });
});

describe('a link summary (the listing alone)', () => {
  it('gives the same row and timeline as the full status', async () => {
    for (const status of [healthy, broken]) {
      const summary = linkSummary(status.name, (await loadLink(app.deps, status.name))!.state);
      expect(linkRow(summary, app.clock())).toEqual(linkRow(status, app.clock()));
      expect(timelineEvents([summary])).toEqual(timelineEvents([status]));
    }
  });
});

describe('the page routes', () => {
  it('build the list from the metadata listing alone: no spec or payload read per link', async () => {
    app.store.reset();
    const res = await handleApiRequest(app.deps, { method: 'GET', path: '/', body: Buffer.alloc(0) }, uiRoutes);
    expect(res.status).toBe(200);
    expect(String(res.body)).toContain('data-link="pg"');
    expect(app.store.calls).toMatchObject({ listSecrets: 1, getSecret: 0, accessVersion: 0 });
  });

  it('answer GET / with the page and its headers; other routes stay JSON', async () => {
    const res = await handleApiRequest(app.deps, { method: 'GET', path: '/', body: Buffer.alloc(0) }, uiRoutes);
    expect(res).toMatchObject({ status: 200, headers: PAGE_HEADERS });
    expect(String(res.body)).toMatch(/^<!DOCTYPE html>/);
    const links = await handleApiRequest(app.deps, { method: 'GET', path: '/links', body: Buffer.alloc(0) }, uiRoutes);
    expect(links.headers).toBeUndefined();
    expect((links.body as { links: unknown[] }).links).toHaveLength(2);
  });

  it('answer an unknown link with a 404 page, and a failing store with a 503 page', async () => {
    const missing = await handleApiRequest(app.deps, { method: 'GET', path: '/ui/links/nowhere', body: Buffer.alloc(0) }, uiRoutes);
    expect(missing).toMatchObject({ status: 404, headers: PAGE_HEADERS });
    expect(String(missing.body)).toMatch(/link nowhere not found/);
    const down = { ...app.deps, store: new Proxy(app.deps.store, { get: () => () => Promise.reject(new MeshlinkError('unavailable', 'store down')) }) };
    const failing = await handleApiRequest(down, { method: 'GET', path: '/', body: Buffer.alloc(0) }, uiRoutes);
    expect(failing).toMatchObject({ status: 503, headers: PAGE_HEADERS });
  });
});
