// A YAML request body as plain JSON data. Only JSON's types are read: a tag the core schema does
// not define (`!!js/function`, `!foo`) or one that makes a non-JSON value (`!!binary`,
// `!!timestamp`) is refused naming the tag and the field, where the yaml library would only warn
// on the console and read the text as a string.
import type { Node } from 'yaml';
import { MeshlinkError, type ErrorDetail } from '../shared/errors.js';
import { yaml } from '../shared/yaml.js';

const CORE = 'tag:yaml.org,2002:';
const JSON_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => CORE + t));

/** The dotted field path of a node from its ancestors, as error details name fields. */
function fieldPath(ancestors: readonly unknown[], node: unknown): string {
  const chain = [...ancestors, node];
  const { isPair, isScalar, isSeq } = yaml();
  const parts: string[] = [];
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i];
    if (isSeq(parent)) parts.push(String(parent.items.indexOf(chain[i + 1] as Node)));
    if (isPair(parent)) parts.push(String(isScalar(parent.key) ? parent.key.value : parent.key));
  }
  return parts.join('.') || '(root)';
}

export function parseYamlBody(text: string): unknown {
  const { parseDocument, visit } = yaml();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, resolveKnownTags: false, logLevel: 'silent' });
  const [error] = doc.errors;
  if (error) throw new MeshlinkError('invalid-argument', 'request body is not valid YAML', { details: [{ path: '(root)', message: error.message.split('\n')[0] ?? 'parse error' }] });
  const details: ErrorDetail[] = [];
  visit(doc, {
    Node(_key, node, ancestors) {
      if (node.tag && !JSON_TAGS.has(node.tag)) {
        const tag = node.tag.startsWith(CORE) ? `!!${node.tag.slice(CORE.length)}` : node.tag;
        details.push({ path: fieldPath(ancestors, node), message: `unknown YAML tag ${tag}: only JSON's types are read` });
      }
    },
  });
  if (details.length > 0) throw new MeshlinkError('invalid-argument', 'request body is not valid YAML', { details });
  try {
    return doc.toJS({ maxAliasCount: 0 });
  } catch (err) {
    throw new MeshlinkError('invalid-argument', 'request body is not valid YAML', { details: [{ path: '(root)', message: (err as Error).message.split('\n')[0] ?? 'parse error' }] });
  }
}
