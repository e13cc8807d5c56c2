// The CLI on the real process: its streams, environment and clock.
import type { CliIO } from './context.js';
import { main } from './main.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `overrides`: a test seam (a fake identity token minter). */
export async function runProcess(overrides: Partial<CliIO> = {}): Promise<void> {
  process.exitCode = await main(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    stdin: readStdin,
    env: process.env,
    now: () => new Date(),
    ...overrides,
  });
}
