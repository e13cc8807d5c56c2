// The one door to the yaml library on the functions' paths, opened on first use. Lazy because
// loading it (its CommonJS build, about 70 files) costs tens of milliseconds of every cold start,
// and only a YAML request body and the local cluster directories need it: GET /healthz, JSON
// requests and the Kubernetes target never load it.
import type * as Yaml from 'yaml';
import { requireLibrary } from './require-library.js';

let library: typeof Yaml | undefined;

/** The library, loaded (synchronously, the build Node resolves for `require`) on the first call. */
export function yaml(): typeof Yaml {
  library ??= requireLibrary<typeof Yaml>('yaml');
  return library;
}
