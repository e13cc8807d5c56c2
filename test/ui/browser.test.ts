// The status page in a real headless browser (Debian's chromium driven by playwright-core), served
// by the API function through functions-framework: the rows, the timeline, a link with an error,
// the detail view, no console error (the Content-Security-Policy blocks nothing the page needs),
// and markup in a spec field and in an error shown as text, never run.
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { LinkStatus } from '../../shared/app/status.js';
import { applyLink } from '../../shared/app/provision.js';
import { MeshlinkError } from '../../shared/errors.js';
import { specInput, withField } from '../support/builders.js';
import { testApp } from '../support/app.js';

const XSS = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>`;

// A status whose spec fields carry markup: validation refuses such specs today, and the page must
// not depend on it (later fields, such as a partner's name, may be freer).
const hostile: { status?: LinkStatus } = {};
vi.mock('../../shared/app/queries.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../shared/app/queries.js')>();
  return {
    ...real,
    listLinkSummaries: async (deps: Parameters<typeof real.listLinkSummaries>[0]) => [...(await real.listLinkSummaries(deps)), ...(hostile.status ? [hostile.status] : [])],
    getLink: async (deps: Parameters<typeof real.getLink>[0], name: string) => (hostile.status && name === hostile.status.name ? hostile.status : real.getLink(deps, name)),
  };
});

const { setRuntimeDeps } = await import('../../functions/runtime.js');
await import('../../functions/index.js');
const { FUNCTION_NAMES } = await import('../../functions/names.js');

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p));
if (!CHROMIUM) console.warn('status page browser tests skipped: no chromium binary (set CHROMIUM_PATH, or apt-get install chromium; .ci/run does)');

describe.skipIf(!CHROMIUM)('the status page in headless chromium', () => {
  const app = testApp({ start: new Date().toISOString() });
  let server: Server;
  let url: string;
  let browser: Browser;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    await applyLink(app.deps, specInput({}, 'mysql'));
    app.clusters.target('broken-cluster').failure = new MeshlinkError('unavailable', `cluster broken-cluster is not answering ${XSS}`);
    await applyLink(app.deps, withField(specInput({ server: { cluster: 'broken-cluster', service: 'pg.default.svc.cluster.local', port: 5432 } }, 'postgres'), 'server.gatewayPort', 15433));
    const base = (await import('../../shared/app/queries.js')).getLink;
    const template = await base(app.deps, 'mysql');
    hostile.status = { ...template, name: 'hostile', host: `evil.example.com${XSS}`, client: { ...template.client, cluster: `client${XSS}` }, spec: { ...(template.spec as object), host: `evil${XSS}` } };

    setRuntimeDeps(app.deps);
    server = getTestServer(FUNCTION_NAMES.api) as unknown as Server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    setRuntimeDeps(undefined);
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  // A page per setting, reused: a new renderer takes seconds to start on a small machine.
  const pages = new Map<boolean, Promise<Page>>();
  function pageFor(javaScript: boolean): Promise<Page> {
    let page = pages.get(javaScript);
    if (!page) {
      page = browser.newContext({ javaScriptEnabled: javaScript }).then(async (context) => {
        const p = await context.newPage();
        // The 404 asked for below is reported as a failed load: the one console error expected.
        p.on('console', (m) => m.type() === 'error' && !m.location().url.endsWith('/ui/links/nowhere') && consoleErrors.push(`${p.url()}: ${m.text()}`));
        p.on('pageerror', (e) => consoleErrors.push(`${p.url()}: ${e.message}`));
        p.on('dialog', (d) => consoleErrors.push(`${p.url()}: dialog ${d.message()}`));
        return p;
      });
      pages.set(javaScript, page);
    }
    return page;
  }

  async function open(path: string, javaScript = true, status = 200): Promise<Page> {
    const page = await pageFor(javaScript);
    const response = await page.goto(url + path);
    expect(response?.status()).toBe(status);
    expect(response?.headers()['content-security-policy']).toMatch(/default-src 'none'/);
    return page;
  }

  it('lists one row per link, the broken one marked with its error, and draws the timeline', async () => {
    const page = await open('/');
    const rows = page.locator('#links tbody tr');
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-link')))).toEqual(['mysql', 'postgres', 'hostile']);
    const mysql = page.locator('tr[data-link="mysql"] td');
    expect(await mysql.allInnerTexts()).toEqual([
      'mysql',
      'cluster client-cluster',
      'cluster server-cluster',
      'stable',
      'synced',
      '—', // probe: never probed
      '—',
      'own CA',
      '1',
      expect.stringMatching(/ UTC in 29d 23h$/),
      expect.stringMatching(/ UTC in 19d 23h$/),
    ]);
    const broken = page.locator('tr[data-link="postgres"]');
    expect(await broken.getAttribute('class')).toMatch(/unhealthy/);
    expect(await broken.locator('td').nth(4).innerText()).toMatch(/not synced: server (error|waiting-for-cluster)/);
    expect(await broken.locator('.error').innerText()).toContain('cluster broken-cluster is not answering');

    const svg = page.locator('svg.timeline');
    expect(await svg.isVisible()).toBe(true);
    for (const link of ['mysql', 'postgres']) {
      for (const kind of ['renewal', 'leaf-expiry', 'ca-expiry']) expect(await svg.locator(`g.event[data-link="${link}"][data-kind="${kind}"]`).count(), `${link} ${kind}`).toBeGreaterThan(0);
    }
    const box = await svg.boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    // The renewal (day 20) is drawn left of the leaf expiry (day 30), and the CA (a year away) at the right edge.
    const cx = async (sel: string) => (await page.locator(sel).first().boundingBox())!.x;
    expect(await cx('g.event[data-link="mysql"][data-kind="renewal"]')).toBeLessThan(await cx('g.event[data-link="mysql"][data-kind="leaf-expiry"]'));
    expect(await page.locator('g.event[data-link="mysql"][data-kind="ca-expiry"]').getAttribute('class')).toMatch(/beyond/);
    expect(await page.title()).toBe('meshlink links');
  });

  it('shows markup from a spec field and from an error as text, and runs none of it', async () => {
    const page = await open('/');
    expect(await page.title()).toBe('meshlink links');
    expect(await page.locator('tr[data-link="hostile"] td').nth(1).innerText()).toBe(`cluster client${XSS}`);
    expect(await page.locator('tr[data-link="postgres"] .error').innerText()).toContain(XSS);
    expect(await page.locator('img, script').count()).toBe(0);
    const detail = await open('/ui/links/hostile');
    expect(await detail.locator('#spec').innerText()).toContain(`"host": "evil${XSS.replace(/"/g, '\\"')}"`);
    expect(await detail.locator('img, script').count()).toBe(0);
    expect(await detail.title()).toBe('meshlink link hostile');
  });

  it('opens a link’s detail view from its row', async () => {
    const page = await open('/');
    await page.locator('tr[data-link="postgres"] a').click();
    await page.waitForURL(/\/ui\/links\/postgres$/);
    expect(await page.locator('h1').innerText()).toBe('postgres');
    expect(await page.locator('#sides tr[data-side="server"]').innerText()).toContain('broken-cluster');
    expect(await page.locator('#sides tr[data-side="client"]').innerText()).toContain('synced');
    expect(await page.locator('#cas tbody tr').count()).toBe(1);
    expect(await page.locator('svg.timeline g.event').count()).toBe(4);
  });

  it('works without JavaScript: the same table', async () => {
    const page = await open('/', false);
    expect(await page.locator('#links tbody tr').count()).toBe(3);
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toMatch(/^\d+$/);
  });

  it('answers an unknown link with a 404 page', async () => {
    const page = await open('/ui/links/nowhere', true, 404);
    expect(await page.locator('.error').innerText()).toMatch(/link nowhere not found/);
  });

  it('logged no console error on any page (nothing blocked by the policy, nothing fetched)', () => {
    expect(consoleErrors).toEqual([]);
  });
});
