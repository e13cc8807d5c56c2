// The production build (`npm run build`, the pipeline's build step) compiles without test-only
// type packages: the type-check of `npm test` includes test/ and so cannot catch a missing type.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

describe('the production build', () => {
  it('type-checks functions/ and shared/ with tsconfig.build.json alone', () => {
    // The package's bin (not in its exports map), found next to its package.json.
    const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
    const run = spawnSync(process.execPath, [tsc, '--noEmit', '-p', 'tsconfig.build.json'], { encoding: 'utf8' });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
