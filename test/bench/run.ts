// `npm run bench`: runs every benchmark section, prints a table per section and writes
// docs/benchmarks.md with the machine, the figures and what they mean. Not part of `npm test`.
// `npm run bench -- 4` (section numbers) runs and prints only those, and writes no file: the
// document holds one whole run.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { coldStartSection, measureColdStart } from './coldstart.js';
import { createChecks, createSection, measureCreate } from './create.js';
import { describeMachine, type Machine } from './machine.js';
import { measureMint, mintSection } from './mint.js';
import { sectionMarkdown, sectionText, type Section } from './report.js';
import { measureSweep, sweepChecks, sweepSection } from './sweep.js';
import { ms } from './stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OUTPUT = path.join(ROOT, 'docs', 'benchmarks.md');

function log(line: string): void {
  process.stderr.write(`  ${line}\n`);
}

async function timedSection<T>(name: string, measure: () => Promise<T>, present: (figures: T) => Section): Promise<{ section: Section; figures: T }> {
  log(`${name}...`);
  const t0 = performance.now();
  const figures = await measure();
  const section = { ...present(figures), seconds: (performance.now() - t0) / 1000 };
  process.stdout.write(`\n${sectionText(section)}\n`);
  return { section, figures };
}

function machineMarkdown(m: Machine): string {
  return [
    '| | |',
    '|---|---|',
    `| CPU | ${m.cpu} |`,
    `| cores | ${m.cores} |`,
    `| memory | ${m.memoryGiB} GiB |`,
    `| Node.js | ${m.node} (OpenSSL ${m.openssl}) |`,
    `| openssl command | ${m.opensslCli} |`,
    `| OS | ${m.os} |`,
    `| date | ${m.date} |`,
    `| load average at the start (1 min) | ${m.load.toFixed(1)} |`,
  ].join('\n');
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const machine = describeMachine();
  process.stdout.write(`meshlink benchmarks on ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node.js ${machine.node}, ${machine.date}\n`);

  const runMint = () => timedSection('1. minting', () => measureMint(log), mintSection);
  const runCreate = () => timedSection('2. creating links', () => measureCreate(log), createSection);
  const runSweep = () => timedSection('3. sweeping', () => measureSweep(log), sweepSection);
  const runCold = () => timedSection('4. cold start', () => measureColdStart(log), coldStartSection);
  const only = process.argv.slice(2);
  if (only.length > 0) {
    const byNumber: Record<string, () => Promise<unknown>> = { '1': runMint, '2': runCreate, '3': runSweep, '4': runCold };
    const unknown = only.filter((n) => !byNumber[n]);
    if (unknown.length > 0) throw new Error(`no bench section ${unknown.join(', ')}: name sections 1 to 4`);
    for (const n of only) await byNumber[n]!();
    return;
  }
  const mint = await runMint();
  const create = await runCreate();
  const sweep = await runSweep();
  const cold = await runCold();
  const sections = [mint.section, create.section, sweep.section, cold.section];
  const failures = [...createChecks(create.figures), ...sweepChecks(sweep.figures)];
  const totalSeconds = (performance.now() - t0) / 1000;

  const doc = [
    '# Benchmarks',
    'How fast meshlink mints, provisions, sweeps and starts, against the manual way and the machine\'s limit. ' +
      'Written by `npm run bench` (`test/bench/run.ts`; not part of `npm test`); every figure below comes from one run of it on this machine:',
    machineMarkdown(machine),
    `The whole run took ${ms(totalSeconds * 1000)} (sections: ${sections.map((s) => `${s.title.split(' ')[0]} ${ms((s.seconds ?? 0) * 1000)}`).join(', ')}). ` +
      'Medians and p95 are nearest-rank over the runs shown; a 2-core virtual machine is noisy, so read differences under about 10% as equal.',
    ...sections.map(sectionMarkdown),
    '## Checks',
    failures.length === 0 ? 'Every check held (unchanged specs wrote nothing; sweeps read no payload for links not due).' : failures.map((f) => `- **failed**: ${f}`).join('\n'),
  ].join('\n\n');
  await writeFile(OUTPUT, `${doc}\n`);
  process.stdout.write(`\nwrote ${path.relative(ROOT, OUTPUT)} in ${ms(totalSeconds * 1000)}\n`);
  if (failures.length > 0) {
    process.stderr.write(`\nbenchmark checks failed:\n${failures.map((f) => `  ${f}`).join('\n')}\n`);
    process.exitCode = 1;
  }
}

await main();
