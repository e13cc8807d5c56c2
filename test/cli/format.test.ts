// Output formatting: kubectl-style times and tables that fit 100 columns, whatever the cells.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { elide, relativeTime, renderTable, shortDuration, TABLE_WIDTH, when } from '../../shared/cli/format.js';

const NOW = new Date('2026-12-06T12:00:00Z');
const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();
const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('times', () => {
  it.each([
    [45 * S, '45s'],
    [119 * S, '119s'],
    [2 * M, '2m'],
    [119 * M, '119m'],
    [2 * H, '2h'],
    [47 * H, '47h'],
    [2 * D, '2d'],
    [364 * D, '364d'],
  ])('%d ms is %s', (ms, text) => {
    expect(shortDuration(ms)).toBe(text);
    expect(shortDuration(-ms)).toBe(text);
  });

  it.each([
    [at(20 * D + H), 'in 20d'],
    [at(-3 * H - M), '3h ago'],
    [at(400 * D), '2028-01-10'],
    [at(-400 * D), '2025-11-01'],
    [undefined, '-'],
    ['not a time', '-'],
  ])('%s is "%s" from now', (iso, text) => {
    expect(relativeTime(iso, NOW)).toBe(text);
  });

  it('describe shows the date and the relative time', () => {
    expect(when(at(20 * D), NOW)).toBe('2026-12-26 12:00 UTC (in 20d)');
    expect(when(at(400 * D), NOW)).toBe('2028-01-10 12:00 UTC');
  });
});

describe('tables', () => {
  it('keeps both ends of an elided cell', () => {
    expect(elide('projects/p/locations/l/clusters/server', 16)).toBe('projects…/server');
    expect(elide('short', 16)).toBe('short');
  });

  it('columns are aligned and a table that fits is left whole', () => {
    expect(renderTable(['NAME', 'PHASE'], [['mysql', 'stable'], ['a-longer-name', 'trust-added']])).toBe(
      'NAME            PHASE\nmysql           stable\na-longer-name   trust-added\n',
    );
  });

  it(`never wider than ${TABLE_WIDTH} columns, and every row keeps its columns' starts`, () => {
    const cell = fc.string({ unit: fc.constantFrom('a', 'b', '-', '/', ':', '0', 'é'), maxLength: 90 });
    fc.assert(
      fc.property(fc.array(fc.array(cell, { minLength: 8, maxLength: 8 }), { maxLength: 6 }), (rows) => {
        const headers = ['NAME', 'CLIENT', 'SERVER', 'PHASE', 'SYNC', 'CA', 'EXPIRES', 'RENEWS'];
        const lines = renderTable(headers, rows).trimEnd().split('\n');
        expect(lines).toHaveLength(rows.length + 1);
        for (const line of lines) expect([...line].length).toBeLessThanOrEqual(TABLE_WIDTH);
        // The header's column starts: each row's cell begins there (after the padding of the previous one).
        const starts = headers.map((h) => lines[0]!.indexOf(h));
        for (const [r, line] of lines.slice(1).entries()) {
          const chars = [...line];
          for (let c = 1; c < headers.length; c++) {
            if (rows[r]![c] !== '') expect(chars[starts[c]! - 1]).toBe(' ');
          }
        }
      }),
    );
  });
});
