// The status page and a link's detail page as whole HTML documents, with the headers they must be
// sent with (a Content-Security-Policy that allows only the page's own stylesheet: no script, no
// fetch, nothing from outside). The table works without JavaScript and the page reloads itself.
// Pure: statuses and `now` in, markup out.
import { createHash } from 'node:crypto';
import type { LinkStatus, LinkSummary } from '../app/status.js';
import { html, SafeHtml } from './html.js';
import { formatTime, relativeTime } from './time.js';
import { timelineSvg } from './timeline.js';
import { issuerOf, linkRow, probeView, sideView, timelineEvents, type LinkRow, type ProbeView, type SideName } from './view.js';

/** Seconds between reloads of a page (a meta refresh: no script needed). */
export const REFRESH_SECONDS = 30;

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1f24;background:#fff}
h1{font-size:1.4rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.meta{color:#57606a;margin:0 0 1rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #d0d7de;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
tr.unhealthy td{background:#fff5f5}
.error{color:#b42318;white-space:pre-wrap;word-break:break-word}
.ok{color:#1a7f37}.bad{color:#b42318;font-weight:600}
.muted{color:#57606a}
code,pre{font-family:ui-monospace,monospace;font-size:12px}
pre{background:#f6f8fa;padding:.75rem;overflow:auto;white-space:pre-wrap;word-break:break-word}
svg.timeline{width:100%;height:auto;max-width:960px;font-size:12px}
.lane-label{fill:#1b1f24}.lane-line{stroke:#d0d7de}.tick line{stroke:#eaeef2}.tick text{fill:#57606a;text-anchor:middle;font-size:11px}
.now{stroke:#0969da;stroke-width:2}.now-label{fill:#0969da;font-size:11px}
.event.renewal{fill:#0969da}.event.leaf-expiry{fill:#9a6700}.event.ca-expiry{fill:#8250df}
.event.overdue{fill:#b42318}.event.beyond{opacity:.5}
.legend span{margin-right:1rem}.legend .renewal{color:#0969da}.legend .leaf-expiry{color:#9a6700}.legend .ca-expiry{color:#8250df}.legend .overdue{color:#b42318}
time{white-space:nowrap}
`.trim();

const CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(CSS).digest('base64')}'`,
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers of every page: HTML, the policy above, never cached, never sniffed or framed. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': CSP,
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function document(title: string, now: Date, body: SafeHtml): string {
  return html`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${REFRESH_SECONDS}"><link rel="icon" href="data:,">
<title>${title}</title><style>${new SafeHtml(CSS)}</style></head>
<body>${body}
<p class="meta">As of <time datetime="${now.toISOString()}">${formatTime(now.toISOString())}</time>; reloads every ${REFRESH_SECONDS} s.</p>
</body></html>
`.markup;
}

function when(iso: string | undefined, now: Date): SafeHtml {
  if (!iso) return html`<span class="muted">—</span>`;
  const past = new Date(iso) <= now;
  return html`<time datetime="${iso}">${formatTime(iso)}</time> <span class="${past ? 'bad' : 'muted'}">${relativeTime(iso, now)}</span>`;
}

function sideCell(row: LinkRow, side: SideName): SafeHtml {
  const s = row.sides.find((x) => x.side === side)!;
  return html`<span class="muted">${s.kind}</span> ${s.name}`;
}

function syncCell(row: LinkRow): SafeHtml {
  if (row.synced) return html`<span class="ok">synced</span>`;
  return html`<span class="bad">not synced</span>: ${row.sides.filter((s) => !s.synced).map((s, i) => html`${i > 0 ? ', ' : ''}${s.side} ${s.sync}`)}`;
}

function probeCell(probe: ProbeView | undefined): SafeHtml {
  if (!probe) return html`<span class="muted">—</span>`;
  return html`<span class="${probe.healthy ? 'ok' : 'bad'}"${probe.detail ? html` title="${probe.detail}"` : ''}>${probe.text}</span>`;
}

function errorCell(text: string | undefined): SafeHtml {
  return text ? html`<span class="error">${text}</span>` : html`<span class="muted">—</span>`;
}

const linkHref = (name: string) => `/ui/links/${encodeURIComponent(name)}`;

const LEGEND = html`<p class="legend muted"><span class="renewal">● next renewal</span><span class="leaf-expiry">◆ leaf expiry</span><span class="ca-expiry">▲ CA expiry</span><span class="overdue">● past due</span><span>faded: beyond the span shown</span></p>`;

/** A fingerprint shortened for a table cell; the whole one in its tooltip. */
const fingerprint = (fp: string | undefined) => (fp ? html`<code title="${fp}">${fp.slice(0, 16)}…</code>` : html`<span class="muted">—</span>`);

export function statusPage(statuses: readonly LinkSummary[], now: Date): string {
  const rows = statuses.map((status) => {
    const row = linkRow(status, now);
    return html`<tr class="link${row.unhealthy ? ' unhealthy' : ''}" data-link="${row.name}">
<td><a href="${linkHref(row.name)}">${row.name}</a></td><td>${sideCell(row, 'client')}</td><td>${sideCell(row, 'server')}</td>
<td>${row.phase}</td><td>${syncCell(row)}</td><td class="probe">${probeCell(row.probe)}</td><td>${errorCell(row.lastError)}</td><td>${row.issuer}</td><td>${row.caGeneration}</td>
<td>${when(row.leafExpiry, now)}</td><td>${when(row.nextRenewal, now)}</td></tr>`;
  });
  const unhealthy = statuses.filter((s) => linkRow(s, now).unhealthy).length;
  const body = html`<h1>meshlink links</h1>
<p class="meta">${statuses.length} link${statuses.length === 1 ? '' : 's'}, ${unhealthy === 0 ? html`<span class="ok">all healthy</span>` : html`<span class="bad">${unhealthy} need${unhealthy === 1 ? 's' : ''} attention</span>`}.</p>
${
  statuses.length === 0
    ? html`<p class="empty">No link yet: <code>POST /links</code> creates one.</p>`
    : html`<table id="links"><thead><tr><th>Link</th><th>Client side</th><th>Server side</th><th>Phase</th><th>Synced</th><th>Probe</th><th>Last error</th><th>Issuer</th><th>CA generation</th><th>Leaf expiry</th><th>Next renewal</th></tr></thead>
<tbody>${rows}</tbody></table>`
}
<h2>Timeline</h2>
${timelineSvg(timelineEvents(statuses), now)}${LEGEND}`;
  return document('meshlink links', now, body);
}

export function linkPage(status: LinkStatus, now: Date): string {
  const sides = (['client', 'server'] as const).map((side) => {
    const s = status[side];
    const v = sideView(status, side);
    return html`<tr data-side="${side}"><th>${side}</th><td><span class="muted">${v.kind}</span> ${v.name}</td><td>${s.namespace}</td><td><code>${s.credentialName}</code></td>
<td>${v.synced ? html`<span class="ok">synced</span>` : html`<span class="bad">${v.sync}</span>`}${s.clusterSecret.lastSync ? html` <span class="muted">${relativeTime(s.clusterSecret.lastSync, now)}</span>` : ''}</td>
<td>${errorCell(v.lastError)}</td><td>${when(s.notAfter, now)}</td><td>${when(s.renewAt, now)}</td><td>${s.caGeneration ?? '—'} <span class="muted">trusts ${s.trustedCaGenerations.join(', ') || '—'}</span></td>
<td>${fingerprint(s.fingerprint)}</td></tr>`;
  });
  const cas = status.ca.map(
    (ca) => html`<tr><td>${ca.generation}${ca.signing ? html` <span class="ok">signing</span>` : ''}</td><td>${when(ca.notAfter, now)}</td><td>${when(ca.renewAt, now)}</td><td>${fingerprint(ca.fingerprint)}</td></tr>`,
  );
  const next = status.rotation.next;
  const probe = probeView(status.probe);
  const served = status.probe?.served;
  const body = html`<p><a href="/">← all links</a></p>
<h1>${status.name}</h1>
<p class="meta">${status.host} · ${status.protocol} · phase ${status.phase} since ${formatTime(status.rotation.phaseSince)} · issuer ${issuerOf(status)}</p>
${status.lastError ? html`<p>Last error: <span class="error" id="last-error">${status.lastError}</span></p>` : ''}
<h2>Sides</h2>
<table id="sides"><thead><tr><th></th><th>Cluster or partner</th><th>Namespace</th><th>Credential</th><th>Sync</th><th>Last error</th><th>Leaf expiry</th><th>Renews</th><th>CA generation</th><th>Fingerprint</th></tr></thead><tbody>${sides}</tbody></table>
<h2>Certificate authorities</h2>
<table id="cas"><thead><tr><th>Generation</th><th>Expiry</th><th>Renews</th><th>Fingerprint</th></tr></thead><tbody>${cas}</tbody></table>
<h2>Rotation</h2>
<p>${next ? html`Next: ${next.step}${next.at ? html`, ${when(next.at, now)}` : ''} <span class="muted">(${next.reason})</span>` : html`<span class="muted">nothing planned</span>`}${status.rotation.forced ? html`; a forced rotation is under way` : ''}; ${status.rotation.retiredVersions} superseded version${status.rotation.retiredVersions === 1 ? '' : 's'} kept.</p>
<h2>Probe</h2>
<p id="probe">${
    probe && status.probe
      ? html`${probeCell(probe)}${status.probe.target ? html` <code>${status.probe.target}</code>` : ''} ${when(probe.at, now)}${status.probe.latencyMs !== undefined ? html` <span class="muted">${status.probe.latencyMs} ms</span>` : ''}${probe.detail ? html`: <span class="${probe.healthy ? 'muted' : 'error'}">${probe.detail}</span>` : ''}${served ? html`; served ${fingerprint(served.fingerprint)}, expires ${when(served.notAfter, now)}` : ''}`
      : html`<span class="muted">not probed yet</span>`
  }</p>
${status.pendingCleanup?.length ? html`<p>Places left to clear: ${status.pendingCleanup.map((p, i) => html`${i > 0 ? '; ' : ''}<code>${p.cluster}/${p.namespace}</code> (${p.what})`)}</p>` : ''}
<h2>Timeline</h2>
${timelineSvg(timelineEvents([status]), now)}${LEGEND}
<h2>Spec</h2>
<pre id="spec">${JSON.stringify(status.spec, null, 2)}</pre>`;
  return document(`meshlink link ${status.name}`, now, body);
}

/** An error as a page (a link not found, a store not answering). */
export function errorPage(status: number, message: string, now: Date): string {
  return document(`meshlink: ${status}`, now, html`<p><a href="/">← all links</a></p><h1>${status}</h1><p class="error">${message}</p>`);
}
