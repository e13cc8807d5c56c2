// @peculiar/x509 loads on first use, not with the functions: a cold start that mints nothing
// (GET /healthz, listings, events on links not due) does not pay for it (docs/benchmarks.md).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** Imports the given modules in a fresh process, optionally mints, and says whether the library is loaded. */
async function loadedAfter(script: string): Promise<boolean> {
  const probe = `
    import { createRequire } from 'node:module';
    ${script}
    const cache = Object.keys(createRequire(import.meta.url).cache);
    // reflect-metadata (which the library needs loaded first, whatever its build) marks an ES-module load too.
    process.stdout.write(String(cache.some((f) => f.includes('@peculiar/x509')) || typeof Reflect.getMetadata === 'function'));`;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: process.cwd() });
  return stdout.trim() === 'true';
}

describe('the X.509 library loads lazily', () => {
  it('is not loaded by importing every function', async () => {
    expect(await loadedAfter(`await import('./functions/index.ts');`)).toBe(false);
  });

  it('is loaded once a CA is minted', async () => {
    expect(
      await loadedAfter(`
        const { mintCa } = await import('./shared/pki/mint.ts');
        await mintCa({ link: 'mysql', host: 'mysql.link.example.com', generation: 1, keyAlgorithm: 'ECDSA-P256', ttlMs: 86_400_000, now: new Date() });`),
    ).toBe(true);
  });
});
