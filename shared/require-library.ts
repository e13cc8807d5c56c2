// Loads a library synchronously, for the doors that open one on first use (yaml.ts, pki/x509.ts,
// functions/cloud-event-request.ts): the bundled build (esbuild.config.ts) holds each such library
// as one file of its own beside its modules, which loads in half the time of the package's many
// files; run from the sources, the package itself.
import { createRequire } from 'node:module';

/** Set by the bundler: library name -> its file, relative to the bundle's modules. */
declare const MESHLINK_BUNDLED_LIBRARIES: Record<string, string> | undefined;

const require = createRequire(import.meta.url);

export function requireLibrary<T>(name: string): T {
  const bundled = typeof MESHLINK_BUNDLED_LIBRARIES === 'undefined' ? undefined : MESHLINK_BUNDLED_LIBRARIES[name];
  return require(bundled ?? name) as T;
}
