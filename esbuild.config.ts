// The deployed artefact (`npm run build`, after tsc): functions/index.ts and all it imports at start,
// bundled into one ES module, dist/bundle/index.mjs (package.json `main`). A cold start then reads
// and compiles a few files instead of about two hundred (meshlink's modules, zod's), which Node's
// module loader resolves, reads and links one by one (docs/benchmarks.md, section 4).
// - functions-framework stays in node_modules: its CLI loads this module, and both must share one
//   function registry; so does express, the framework's own (functions/framework-errors.ts patches it).
// - The SDKs stay in node_modules too, imported (import()) on first use by their adapters.
// - The libraries the code requires on first use (shared/require-library.ts) are each bundled into
//   one CommonJS file beside the modules, which the code requires instead of the package.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const ROOT = path.dirname(fileURLToPath(import.meta.url));

/** Where `npm run build` writes the bundle; package.json `main` names its entry. */
export const BUNDLE_DIR = path.join(ROOT, 'dist', 'bundle');

/**
 * The entry, `.mjs`: functions-framework's loader looks up the nearest package.json's `type` for a
 * `.js` module, importing read-package-up and its dependencies to do it (about 65 ms of a cold
 * start here); for `.mjs` it knows without looking.
 */
export const BUNDLE_ENTRY = path.join(BUNDLE_DIR, 'index.mjs');

/**
 * Whitespace and syntax minified (names kept, for stack traces and logs): less source for V8 to read
 * at every cold start.
 */
const MINIFY = { minifyWhitespace: true, minifySyntax: true } satisfies BuildOptions;

/** Packages imported by name that stay in node_modules (a package's subpaths included). */
export const EXTERNAL = ['@google-cloud/functions-framework', 'express', '@google-cloud/*', '@grpc/grpc-js', '@kubernetes/client-node', 'google-auth-library'];

/**
 * Libraries required on first use -> their bundled file. reflect-metadata, which x509.ts requires
 * before @peculiar/x509, is one file: it stays in node_modules.
 */
export const LAZY_LIBRARIES: Record<string, string> = { yaml: 'yaml.cjs', '@peculiar/x509': 'x509.cjs', cloudevents: 'cloudevents.cjs' };

export function bundleOptions(outdir: string): BuildOptions {
  return {
    entryPoints: { index: path.join(ROOT, 'functions', 'index.ts') },
    outdir,
    outExtension: { '.js': '.mjs' }, // see BUNDLE_ENTRY
    bundle: true,
    // What index.ts imports on first use (the store, prober and CA adapters, and their SDKs) goes to
    // chunks loaded then: in a single file, esbuild would hoist the SDK imports of those modules to
    // the top, and every cold start would load @kubernetes/client-node and the Google clients.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    // Chunks sit beside index.mjs, so the library files are `./<file>` from any of them.
    define: { MESHLINK_BUNDLED_LIBRARIES: JSON.stringify(Object.fromEntries(Object.entries(LAZY_LIBRARIES).map(([name, file]) => [name, `./${file}`]))) },
    ...MINIFY,
    sourcemap: true,
    logLevel: 'warning',
  };
}

/** One library as a CommonJS file of its own (what `require(name)` returns). */
export function libraryOptions(name: string, outdir: string): BuildOptions {
  return {
    stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: ROOT, loader: 'js', sourcefile: `${name}.cjs` },
    outfile: path.join(outdir, LAZY_LIBRARIES[name]!),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    ...MINIFY,
    logLevel: 'warning',
  };
}

export async function bundleFunctions(outdir = BUNDLE_DIR): Promise<void> {
  await rm(outdir, { recursive: true, force: true }); // no chunk of an earlier build stays behind
  await Promise.all([build(bundleOptions(outdir)), ...Object.keys(LAZY_LIBRARIES).map((name) => build(libraryOptions(name, outdir)))]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await bundleFunctions();
