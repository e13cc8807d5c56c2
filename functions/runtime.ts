// The process-wide app: configuration parsed once from the environment, adapters built lazily on
// first use (so a cold start loads only what its trigger needs) and reused across invocations.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { AppDeps } from '../shared/app/deps.js';
import { parseConfig, type Config } from '../shared/config.js';
import { composeApp } from '../shared/compose.js';

let config: Config | undefined;
let deps: Promise<AppDeps> | undefined;

export function runtimeConfig(): Config {
  config ??= parseConfig(process.env);
  return config;
}

export function runtimeDeps(): Promise<AppDeps> {
  if (!deps) {
    deps = composeApp(runtimeConfig(), { workerId: `${hostname()}/${randomUUID().slice(0, 8)}` });
    deps.catch(() => {
      deps = undefined; // let the next invocation try again
    });
  }
  return deps;
}

/** Test seam: serve the functions from these deps (undefined: back to the environment's). */
export function setRuntimeDeps(next: AppDeps | undefined): void {
  deps = next ? Promise.resolve(next) : undefined;
}
