// The documents of `meshlink apply -f`: YAML or JSON, one or several (`---`-separated YAML
// documents, or a JSON array), each a link spec or another kind named by `kind:`. All are parsed
// and checked before the first is sent, so a bad file sends nothing.
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { ErrorDetail } from '../errors.js';
import { failure } from './errors.js';
import { documentKind, RESOURCES, type ResourceKind } from './resources.js';

export interface ApplyDocument {
  kind: ResourceKind;
  /** The body the API gets: the document without `kind`. */
  body: Record<string, unknown>;
  /** `name` of the document, for messages. */
  name?: string;
  /** 1-based position in the file. */
  position: number;
}

function invalid(source: string, details: ErrorDetail[]): never {
  throw failure('invalid-argument', `${source}: not a valid meshlink file`, details);
}

/** A `.json` file is read as JSON: YAML would accept what JSON tools refuse (a trailing comma). */
function parseJson(text: string, source: string): unknown[] {
  try {
    const value: unknown = JSON.parse(text);
    if (value === null) return [];
    return Array.isArray(value) ? value : [value];
  } catch (err) {
    return invalid(source, [{ path: 'document 1', message: `not valid JSON: ${(err as Error).message}` }]);
  }
}

/** YAML documents (`---`-separated; JSON is YAML too); a JSON array or YAML list is a list of documents. */
function parseYamlDocuments(text: string, source: string): unknown[] {
  const raw: unknown[] = [];
  const details: ErrorDetail[] = [];
  parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true }).forEach((doc, i) => {
    const problem = doc.errors[0];
    if (problem) {
      details.push({ path: `document ${i + 1}`, message: `not valid YAML or JSON: ${problem.message.split('\n')[0]}` });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 0 }); // no aliases: what the API accepts too
    } catch (err) {
      details.push({ path: `document ${i + 1}`, message: (err as Error).message.split('\n')[0]! });
      return;
    }
    if (value === null || value === undefined) return; // an empty document (a trailing ---)
    if (Array.isArray(value)) raw.push(...value);
    else raw.push(value);
  });
  if (details.length) invalid(source, details);
  return raw;
}

/** Parses every document of `text`; a problem with any is an error naming each bad document. */
export function parseDocuments(text: string, source: string): ApplyDocument[] {
  const raw: unknown[] = /\.json$/i.test(source) && text.trim() !== '' ? parseJson(text, source) : parseYamlDocuments(text, source);
  const details: ErrorDetail[] = [];
  if (raw.length === 0) invalid(source, [{ path: '(root)', message: 'no document: give a link spec (YAML or JSON)' }]);
  const out: ApplyDocument[] = [];
  raw.forEach((value, i) => {
    const path = `document ${i + 1}`;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      details.push({ path, message: 'must be a mapping (a link spec)' });
      return;
    }
    const { kind: kindField, ...body } = value as Record<string, unknown>;
    const kind = documentKind(kindField);
    if (!kind) {
      details.push({ path: `${path}.kind`, message: `unknown kind ${JSON.stringify(kindField)}: one of ${RESOURCES.map((r) => r.documentKind).join(', ')}` });
      return;
    }
    out.push({ kind, body, position: i + 1, ...(typeof body.name === 'string' ? { name: body.name } : {}) });
  });
  if (details.length) invalid(source, details);
  return out;
}

/** Reads `-f FILE` (`-` is standard input). */
export async function readSource(file: string, stdin: () => Promise<string>): Promise<string> {
  if (file === '-') return stdin();
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw failure('invalid-argument', `${file}: ${why}`);
  }
}
