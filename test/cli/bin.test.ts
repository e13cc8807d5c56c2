// The CLI from the production build: bin/meshlink.js beside dist/ and no TypeScript sources (an
// installed build) runs the compiled CLI; in a checkout it runs the sources (cli.test.ts).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort, runCli } from './support.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 180_000 });

const ROOT = path.resolve(import.meta.dirname, '../..');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'meshlink-build-'));
  const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(dir, 'dist')], { encoding: 'utf8' });
  expect(build.stdout + build.stderr).toBe('');
  mkdirSync(path.join(dir, 'bin'));
  copyFileSync(path.join(ROOT, 'bin', 'meshlink.js'), path.join(dir, 'bin', 'meshlink.js'));
  copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the package bin (`npx meshlink`)', () => {
  it('names bin/meshlink.js, an executable node script', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
    expect(pkg.bin).toEqual({ meshlink: 'bin/meshlink.js' });
    expect(readFileSync(path.join(ROOT, 'bin', 'meshlink.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
    expect(statSync(path.join(ROOT, 'bin', 'meshlink.js')).mode & 0o111).toBe(0o111);
  });
});

describe('the built CLI', () => {
  it('answers --help and fails a request to a closed port in one line', async () => {
    const bin = path.join(dir, 'bin', 'meshlink.js');
    const help = await runCli(['--help'], { script: [bin] });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: meshlink /);
    const closed = await runCli(['get', 'links', '--server', `http://127.0.0.1:${await freePort()}`], { script: [bin] });
    expect(closed.code).toBe(1);
    expect(closed.stderr).toMatch(/^error: cannot reach the meshlink server at .*\n$/);
  });
});
