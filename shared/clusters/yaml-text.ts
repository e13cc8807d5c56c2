// The YAML text of the objects the local cluster directories write: block style as the yaml
// library writes it (two-space indent, sequences indented under their key), at a fraction of its
// cost (its document model made the library's stringify most of a create's YAML time). Plain data
// only (what JSON holds). A string is written plain only when it reads back as the same string
// under both YAML 1.2 (the yaml library) and YAML 1.1 (kubectl's sigs.k8s.io/yaml, where `yes`,
// `on` or `012` are not strings), else as a JSON string, which is a YAML double-quoted scalar.

/** Plain-safe characters: no space, quote, `#`, `,`, bracket or brace; a letter, `_` or digit first. */
const PLAIN = /^[A-Za-z0-9_][A-Za-z0-9_./@+=:-]*$/;
/** Words YAML 1.1 or 1.2 reads as booleans or null. */
const KEYWORDS = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL)$/;
/**
 * Starts like a number, a YAML 1.1 timestamp or a prefixed integer: only digits and number
 * punctuation (`1e3`, `1_000`, `1:30`, `1.5`, even an IPv4 address, which YAML 1.1's float pattern
 * takes), `0x`, `0o`, `0b`, or a date.
 */
const NUMBERISH = /^(?:[0-9_.:eE+-]+|0[xXoObB].*|[0-9]{4}-[0-9][0-9]?-[0-9][0-9]?.*)$/;

function plain(value: string): boolean {
  return PLAIN.test(value) && !KEYWORDS.test(value) && !NUMBERISH.test(value) && !value.endsWith(':');
}

function scalar(value: unknown): string {
  if (typeof value === 'string') return plain(value) ? value : JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`cannot write ${value} as YAML`);
    return String(value);
  }
  if (typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  throw new TypeError(`cannot write a ${typeof value} as YAML`);
}

const isCollection = (value: unknown): value is object => typeof value === 'object' && value !== null;
const isEmpty = (value: object) => (Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0);

/** The lines of a non-empty collection at `indent`; the first line's indent left to the caller. */
function block(value: object, indent: string, lines: string[]): void {
  const entries: [string | undefined, unknown][] = Array.isArray(value) ? value.map((item) => [undefined, item]) : Object.entries(value).filter(([, v]) => v !== undefined);
  for (const [key, item] of entries) {
    const head = key === undefined ? `${indent}- ` : `${indent}${scalar(key)}:`;
    if (!isCollection(item) || isEmpty(item)) {
      const text = isCollection(item) ? (Array.isArray(item) ? '[]' : '{}') : scalar(item);
      lines.push(key === undefined ? `${head}${text}` : `${head} ${text}`);
    } else if (key === undefined) {
      // A collection in a sequence starts on the dash's line (`- name: a`), the rest under it.
      const inner: string[] = [];
      block(item, `${indent}  `, inner);
      lines.push(`${head}${inner[0]!.slice(indent.length + 2)}`, ...inner.slice(1));
    } else {
      lines.push(head);
      // Sequences sit two spaces in under their key, as maps do.
      block(item, `${indent}  `, lines);
    }
  }
}

/** `value` (a map or sequence of plain data) as a YAML document, ending in a newline. */
export function yamlText(value: object): string {
  if (isEmpty(value)) return Array.isArray(value) ? '[]\n' : '{}\n';
  const lines: string[] = [];
  block(value, '', lines);
  return `${lines.join('\n')}\n`;
}
