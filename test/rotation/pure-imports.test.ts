// The pure rotation core loads no minting or certificate-library code: a sweep over many links
// decides from state annotations, and importing the minting module would load @peculiar/x509.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ROTATION = path.join(ROOT, 'shared/rotation');

/** Every file a module reaches through its relative imports (type-only imports included), and the packages it names. */
function reach(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  if (!file.endsWith('.ts')) return seen;
  for (const [, spec] of readFileSync(file, 'utf8').matchAll(/from '([^']+)'/g)) {
    if (!spec!.startsWith('.')) seen.add(spec!);
    else reach(path.resolve(path.dirname(file), spec!.replace(/\.js$/, '.ts')), seen);
  }
  return seen;
}

const FORBIDDEN = [path.join(ROOT, 'shared/pki/mint.ts'), path.join(ROOT, 'shared/pki/x509.ts'), '@peculiar/x509'];

describe('the pure rotation core', () => {
  it.each(readdirSync(ROTATION).filter((f) => f.endsWith('.ts')))('%s reaches no minting or x509 code', (name) => {
    const reached = reach(path.join(ROTATION, name));
    expect(FORBIDDEN.filter((f) => reached.has(f))).toEqual([]);
  });
});
