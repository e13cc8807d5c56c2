// The machine a benchmark ran on: CPU model, cores, memory, Node.js and OpenSSL versions, date.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  openssl: string;
  /** The openssl command the tutorial's script runs (may differ from Node's bundled library). */
  opensslCli: string;
  os: string;
  date: string;
  /** Load average over the last minute when the run began: other processes share the cores. */
  load: number;
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) return line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux: fall through
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function opensslCli(): string {
  try {
    return execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'not installed';
  }
}

export function describeMachine(): Machine {
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism(),
    load: os.loadavg()[0]!,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    openssl: process.versions.openssl ?? 'unknown',
    opensslCli: opensslCli(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString().slice(0, 10),
  };
}
