// Which shared/ modules a production path imports: the modules reachable from the entry points
// (functions/, the CLI's bin) by their static and dynamic imports. `npx tsx test/support/production-imports.ts`
// lists the shared/ modules nothing in production reaches (test helpers belong in test/);
// test/build/production-imports.test.ts keeps the list empty.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

export function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.(ts|js)$/.test(name) ? [path] : [];
  });
}

/** A module's imports: a package by its name, a relative one as the file (`.js` names the `.ts` source). */
export function importsOf(file: string): { target: string; typeOnly: boolean }[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => {
    const spec = m[1] ?? m[2] ?? m[3]!;
    const target = spec.startsWith('.') ? resolve(dirname(file), spec).replace(/\.js$/, '.ts') : spec;
    return { target, typeOnly: /^import type\s/.test(m[0]) };
  });
}

/** Every module reachable from the production entry points. */
export function productionModules(): Set<string> {
  const seen = new Set<string>();
  const queue = [...files(join(ROOT, 'functions')), join(ROOT, 'shared/cli/process.ts')];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    queue.push(...importsOf(file).map((i) => i.target).filter((f) => f.startsWith('/') && !seen.has(f)));
  }
  return seen;
}

/** shared/ modules no production path imports, relative to the root. */
export function unshippedSharedModules(): string[] {
  const reached = productionModules();
  return files(join(ROOT, 'shared'))
    .filter((f) => !reached.has(f))
    .map((f) => relative(ROOT, f))
    .sort();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const module of unshippedSharedModules()) console.log(module);
}
