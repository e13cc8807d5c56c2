// Output formatting: tables that fit a terminal, times as "in 20d" / "3h ago" like kubectl, and
// the json and yaml forms scripts read. Pure: the time is a parameter.
import { stringify as toYaml } from 'yaml';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The widest a table may be. */
export const TABLE_WIDTH = 100;

/** `data` as JSON (indented) or YAML, ending with a newline. */
export function serialize(data: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? `${JSON.stringify(data, null, 2)}\n` : toYaml(data, { lineWidth: 0 });
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A duration the way kubectl shows ages: 45s, 12m, 5h, 20d; a year or more is left to dates. */
export function shortDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 2 * MINUTE) return `${Math.floor(abs / SECOND)}s`;
  if (abs < 2 * HOUR) return `${Math.floor(abs / MINUTE)}m`;
  if (abs < 2 * DAY) return `${Math.floor(abs / HOUR)}h`;
  return `${Math.floor(abs / DAY)}d`;
}

/** `2026-12-26 16:23 UTC` */
export function dateTime(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** "in 20d" or "3h ago"; beyond a year, the date. Missing or unparsable: "-". */
export function relativeTime(iso: string | undefined, now: Date): string {
  if (!iso) return '-';
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '-';
  const ms = at.getTime() - now.getTime();
  if (Math.abs(ms) >= 365 * DAY) return at.toISOString().slice(0, 10);
  return ms >= 0 ? `in ${shortDuration(ms)}` : `${shortDuration(ms)} ago`;
}

/** The date and the relative time, for describe: `2026-12-26 16:23 UTC (in 20d)`. */
export function when(iso: string | undefined, now: Date): string {
  if (!iso) return '-';
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const rel = relativeTime(iso, now);
  return /^\d{4}-/.test(rel) ? dateTime(at) : `${dateTime(at)} (${rel})`;
}

/** Shortens text to `width` characters, keeping both ends (cluster references differ at the end). */
export function elide(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  if (width <= 1) return chars.slice(0, width).join('');
  const head = Math.ceil((width - 1) / 2);
  const tail = width - 1 - head;
  return `${chars.slice(0, head).join('')}…${tail > 0 ? chars.slice(chars.length - tail).join('') : ''}`;
}

const GAP = 3;
/** Columns are not shrunk below this (or their header, if shorter). */
const MIN_COLUMN = 8;

/** A left-aligned table no wider than `width`: the widest columns are elided first. */
export function renderTable(headers: string[], rows: string[][], width = TABLE_WIDTH): string {
  const len = (s: string) => [...s].length;
  const widths = headers.map((h, i) => Math.max(len(h), ...rows.map((r) => len(r[i] ?? ''))));
  const floor = headers.map((h) => Math.min(MIN_COLUMN, len(h)) || 1);
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP * (widths.length - 1);
  while (total() > width) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) if (widths[i]! > Math.max(floor[i]!, MIN_COLUMN) && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
    if (widest < 0) break; // nothing left to shrink: as narrow as it gets
    widths[widest]!--;
  }
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        const text = elide(c, widths[i]!);
        return i === cells.length - 1 ? text : text + ' '.repeat(widths[i]! - len(text) + GAP);
      })
      .join('')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}
