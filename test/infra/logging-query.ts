// A small evaluator of the Cloud Logging query language, for the subset infra/ uses in log-based
// metric filters: comparisons (`=`, `!=`, `<`, `<=`, `>`, `>=`, `:` has, `=~`/`!~` regular
// expressions) on dotted field paths, AND / OR / NOT (and adjacency as AND), parentheses, quoted
// or bare values, severities by rank. Enough to ask "does this filter select that log entry".

/** A LogEntry as Cloud Logging stores a structured line: `severity` lifted out, the rest in `jsonPayload`. */
export type LogEntry = Record<string, unknown>;

type Op = '=' | '!=' | '<' | '<=' | '>' | '>=' | ':' | '=~' | '!~';
type Expr = { and: Expr[] } | { or: Expr[] } | { not: Expr } | { path: string[]; op: Op; value: string; quoted: boolean };

const SEVERITY_RANK: Record<string, number> = { DEFAULT: 0, DEBUG: 100, INFO: 200, NOTICE: 300, WARNING: 400, ERROR: 500, CRITICAL: 600, ALERT: 700, EMERGENCY: 800 };

type Token = { kind: 'word' | 'string' | 'op' | 'open' | 'close'; text: string };

function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < query.length) {
    const c = query[i]!;
    if (/\s/.test(c)) i++;
    else if (c === '(' || c === ')') tokens.push({ kind: c === '(' ? 'open' : 'close', text: c }), i++;
    else if (c === '"') {
      let text = '';
      for (i++; i < query.length && query[i] !== '"'; i++) text += query[i] === '\\' ? query[++i] : query[i];
      if (i >= query.length) throw new Error(`unterminated string in ${query}`);
      tokens.push({ kind: 'string', text });
      i++;
    } else {
      const op = ['!=', '<=', '>=', '=~', '!~', '=', '<', '>', ':'].find((o) => query.startsWith(o, i));
      if (op) tokens.push({ kind: 'op', text: op }), (i += op.length);
      else {
        const m = /^[^\s()"=<>:!]+/.exec(query.slice(i));
        if (!m) throw new Error(`unexpected ${c} in ${query}`);
        tokens.push({ kind: 'word', text: m[0] });
        i += m[0].length;
      }
    }
  }
  return tokens;
}

/** Parses a filter; throws on anything outside the subset (so an unsupported filter fails the test). */
export function parseQuery(query: string): Expr {
  const tokens = tokenize(query);
  let pos = 0;
  const peek = () => tokens[pos];
  const isWord = (w: string) => peek()?.kind === 'word' && peek()!.text === w;

  const orExpr = (): Expr => {
    const parts = [andExpr()];
    while (isWord('OR')) pos++, parts.push(andExpr());
    return parts.length === 1 ? parts[0]! : { or: parts };
  };
  const andExpr = (): Expr => {
    const parts = [unary()];
    for (;;) {
      if (isWord('AND')) pos++;
      else if (!peek() || peek()!.kind === 'close' || isWord('OR')) break;
      parts.push(unary());
    }
    return parts.length === 1 ? parts[0]! : { and: parts };
  };
  const unary = (): Expr => {
    if (isWord('NOT') || (peek()?.kind === 'word' && peek()!.text === '-')) return pos++, { not: unary() };
    if (peek()?.kind === 'open') {
      pos++;
      const e = orExpr();
      if (peek()?.kind !== 'close') throw new Error(`missing ) in ${query}`);
      pos++;
      return e;
    }
    return comparison();
  };
  const comparison = (): Expr => {
    const path: string[] = [];
    for (;;) {
      const t = peek();
      if (t?.kind === 'string') path.push(t.text), pos++;
      else if (t?.kind === 'word') path.push(...t.text.split('.').filter((p) => p !== '')), pos++;
      else throw new Error(`expected a field at token ${pos} of ${query}`);
      // `labels."a.b"`: a word ending in '.' continues with a quoted segment.
      if (!(t.kind === 'word' && t.text.endsWith('.'))) break;
    }
    const op = peek();
    if (op?.kind !== 'op') throw new Error(`expected an operator after ${path.join('.')} in ${query}`);
    pos++;
    const value = peek();
    if (value?.kind !== 'string' && value?.kind !== 'word') throw new Error(`expected a value after ${path.join('.')}${op.text} in ${query}`);
    pos++;
    return { path, op: op.text as Op, value: value.text, quoted: value.kind === 'string' };
  };

  const expr = orExpr();
  if (pos !== tokens.length) throw new Error(`unexpected ${tokens[pos]!.text} in ${query}`);
  return expr;
}

function fieldAt(entry: LogEntry, path: string[]): unknown {
  let cur: unknown = entry;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function compare(field: unknown, op: Op, value: string, isSeverity: boolean): boolean {
  if (field === undefined || field === null || typeof field === 'object') return false;
  if (op === ':') return String(field).toLowerCase().includes(value.toLowerCase());
  if (op === '=~' || op === '!~') return new RegExp(value).test(String(field)) === (op === '=~');
  let a: number | string = String(field);
  let b: number | string = value;
  if (isSeverity && String(field) in SEVERITY_RANK && value in SEVERITY_RANK) [a, b] = [SEVERITY_RANK[String(field)]!, SEVERITY_RANK[value]!];
  else if (typeof field === 'number' && value.trim() !== '' && !Number.isNaN(Number(value))) [a, b] = [field, Number(value)];
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
  }
}

function evaluate(e: Expr, entry: LogEntry): boolean {
  if ('and' in e) return e.and.every((x) => evaluate(x, entry));
  if ('or' in e) return e.or.some((x) => evaluate(x, entry));
  if ('not' in e) return !evaluate(e.not, entry);
  return compare(fieldAt(entry, e.path), e.op, e.value, e.path.length === 1 && e.path[0] === 'severity');
}

export function matches(query: string, entry: LogEntry): boolean {
  return evaluate(parseQuery(query), entry);
}

/** The LogEntry Cloud Logging makes of one JSON line a Cloud Run service wrote to stdout. */
export function cloudRunEntry(line: Record<string, unknown>, service: string): LogEntry {
  const { severity, time: _time, ...payload } = line;
  return { severity: severity ?? 'DEFAULT', jsonPayload: payload, resource: { type: 'cloud_run_revision', labels: { service_name: service } } };
}
