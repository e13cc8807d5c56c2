// What a benchmark section hands the orchestrator: tables and commentary, printed as text and
// written as Markdown (docs/benchmarks.md).

export interface Table {
  title?: string;
  headers: string[];
  rows: string[][];
}

export interface Section {
  title: string;
  /** Paragraphs (Markdown) shown before the tables: what was measured and how. */
  method: string[];
  tables: Table[];
  /** Paragraphs (Markdown) after the tables: where time goes, ratios, aims met or not. */
  findings: string[];
  /** Seconds the section took. */
  seconds?: number;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

export function markdownTable(table: Table): string {
  const lines = [`| ${table.headers.map(cell).join(' | ')} |`, `|${table.headers.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const row of table.rows) lines.push(`| ${row.map(cell).join(' | ')} |`);
  return `${table.title ? `**${table.title}**\n\n` : ''}${lines.join('\n')}`;
}

/** Markdown without its inline syntax, for the terminal. */
function plain(text: string): string {
  return text.replace(/\*\*([^*]+)\*\*/g, '$1').replace(/`([^`]+)`/g, '$1');
}

export function textTable(table: Table): string {
  const widths = table.headers.map((h, i) => Math.max(plain(h).length, ...table.rows.map((r) => plain(r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? plain(c).padEnd(widths[i]!) : plain(c).padStart(widths[i]!))).join('  ');
  return [...(table.title ? [plain(table.title)] : []), line(table.headers), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map(line)].join('\n');
}

export function sectionText(section: Section): string {
  return [`== ${section.title} ==`, ...section.tables.map(textTable), ...section.findings.map((f) => plain(f))].join('\n\n');
}

export function sectionMarkdown(section: Section): string {
  return [`## ${section.title}`, ...section.method, ...section.tables.map(markdownTable), ...section.findings].join('\n\n');
}
