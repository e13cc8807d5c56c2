#!/usr/bin/env node
// `meshlink`, the operator CLI (shared/cli/). In a checkout it runs the TypeScript sources through
// tsx (no build step); where tsx or the sources are absent (an installed build), it runs dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../shared/cli/process.ts', import.meta.url));
const tsx = existsSync(source) ? await import('tsx/esm/api').catch(() => undefined) : undefined;
let entry;
if (tsx) {
  tsx.register();
  entry = await import('../shared/cli/process.ts');
} else {
  entry = await import('../dist/shared/cli/process.js');
}
await entry.runProcess();
