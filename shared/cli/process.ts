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
  // `meshlink get links | head -1`: a reader that stops early is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  process.exitCode = await main(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    stdin: readStdin,
    env: process.env,
    now: () => new Date(),
    ...overrides,
  });
}
