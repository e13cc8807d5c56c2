// The timeline of coming renewals and expiries as an inline SVG drawn on the server (no script):
// one lane per link, time from now to a little past the last leaf expiry or renewal. What lies
// before now (overdue) is pinned to the left edge, what lies past the end (a CA a year away) to the
// right edge, each marked so. Pure.
import { html, type SafeHtml } from './html.js';
import { DAY, formatTime, relativeTime } from './time.js';
import type { TimelineEvent, TimelineKind } from './view.js';

const HOUR = 3_600_000;
const WIDTH = 960;
const LABEL_W = 200;
const RIGHT_PAD = 24;
const TOP = 34;
const LANE_H = 26;
const STEPS = [HOUR, 6 * HOUR, DAY, 7 * DAY, 30 * DAY, 90 * DAY, 365 * DAY];
const MAX_TICKS = 8;

const r1 = (n: number) => Math.round(n * 10) / 10;

/** A marker shape per kind, centred on (x, y). */
function marker(kind: TimelineKind, x: number, y: number): SafeHtml {
  if (kind === 'renewal') return html`<circle cx="${r1(x)}" cy="${y}" r="5"/>`;
  if (kind === 'leaf-expiry') return html`<path d="M${r1(x)} ${y - 6}L${r1(x + 6)} ${y}L${r1(x)} ${y + 6}L${r1(x - 6)} ${y}Z"/>`;
  return html`<path d="M${r1(x)} ${y - 6}L${r1(x + 6)} ${y + 5}L${r1(x - 6)} ${y + 5}Z"/>`;
}

function tickLabel(t: number, step: number): string {
  const iso = new Date(t).toISOString();
  return step < DAY ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : step >= 30 * DAY ? iso.slice(0, 10) : iso.slice(5, 10);
}

/** The end of the drawn span: a little past the last leaf expiry or renewal (CA expiries far away would squash them). */
function spanEnd(events: readonly TimelineEvent[], now: number): number {
  const near = events.filter((e) => e.kind !== 'ca-expiry');
  const times = (near.length > 0 ? near : events).map((e) => new Date(e.at).getTime());
  const last = Math.max(now + HOUR, ...times);
  return now + (last - now) * 1.05;
}

export function timelineSvg(events: readonly TimelineEvent[], now: Date): SafeHtml {
  if (events.length === 0) return html`<p class="empty">No certificate issued yet: nothing to renew.</p>`;
  const start = now.getTime();
  const end = spanEnd(events, start);
  const plotW = WIDTH - LABEL_W - RIGHT_PAD;
  const x = (t: number) => LABEL_W + (Math.min(Math.max(t, start), end) - start) / (end - start) * plotW;
  const links = [...new Set(events.map((e) => e.link))];
  const height = TOP + links.length * LANE_H + 8;

  const step = STEPS.find((s) => (end - start) / s <= MAX_TICKS) ?? STEPS[STEPS.length - 1]!;
  const ticks: number[] = [];
  for (let t = Math.ceil(start / step) * step; t <= end; t += step) ticks.push(t);

  const lanes = links.map((link, i) => {
    const y = TOP + i * LANE_H + LANE_H / 2;
    const marks = events
      .filter((e) => e.link === link)
      .map((e) => {
        const t = new Date(e.at).getTime();
        const where = t < start ? ' overdue' : t > end ? ' beyond' : '';
        const note = t < start ? ' (past)' : t > end ? ' (beyond the span shown)' : '';
        return html`<g class="event ${e.kind}${where}" data-link="${link}" data-kind="${e.kind}"><title>${link}: ${e.label} ${formatTime(e.at)}, ${relativeTime(e.at, now)}${note}</title>${marker(e.kind, x(t), y)}</g>`;
      });
    return html`<g class="lane"><text class="lane-label" x="8" y="${y + 4}">${link}</text><line class="lane-line" x1="${LABEL_W}" y1="${y}" x2="${WIDTH - RIGHT_PAD}" y2="${y}"/>${marks}</g>`;
  });

  const axis = ticks.map((t) => html`<g class="tick"><line x1="${r1(x(t))}" y1="${TOP - 6}" x2="${r1(x(t))}" y2="${height - 8}"/><text x="${r1(x(t))}" y="${TOP - 10}">${tickLabel(t, step)}</text></g>`);

  return html`<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-labelledby="timeline-title"><title id="timeline-title">Coming renewals and expiries, from ${formatTime(now.toISOString())} to ${formatTime(new Date(end).toISOString())}</title>${axis}<line class="now" x1="${LABEL_W}" y1="${TOP - 14}" x2="${LABEL_W}" y2="${height - 8}"/><text class="now-label" x="${LABEL_W + 4}" y="${TOP - 22}">now</text>${lanes}</svg>`;
}
