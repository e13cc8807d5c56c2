// `npm run bench`: runs every benchmark section, prints a table per section and writes
// docs/benchmarks.md with the machine, the figures and what they mean. Not part of `npm test`.
// `npm run bench -- 2` (section numbers) runs and prints only those: the document is written by a
// whole run only, so its figures always come from one run.
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

interface Ran {
  section: Section;
  failures: string[];
}

/** The sections in order, each with the checks its figures must pass. */
const SECTIONS: (() => Promise<Ran>)[] = [
  async () => ({ section: (await timedSection('1. minting', () => measureMint(log), mintSection)).section, failures: [] }),
  async () => {
    const { section, figures } = await timedSection('2. creating links', () => measureCreate(log), createSection);
    return { section, failures: createChecks(figures) };
  },
  async () => {
    const { section, figures } = await timedSection('3. sweeping', () => measureSweep(log), sweepSection);
    return { section, failures: sweepChecks(figures) };
  },
  async () => ({ section: (await timedSection('4. cold start', () => measureColdStart(log), coldStartSection)).section, failures: [] }),
];

/** The section numbers named on the command line (`npm run bench -- 2 3`); none names every section. */
function chosenSections(args: string[]): number[] {
  if (args.length === 0) return SECTIONS.map((_, i) => i + 1);
  const numbers = [...new Set(args.map(Number))].sort((a, b) => a - b);
  if (numbers.some((n) => !Number.isInteger(n) || n < 1 || n > SECTIONS.length)) throw new Error(`usage: npm run bench [-- SECTION...] with sections 1 to ${SECTIONS.length}; got ${args.join(' ')}`);
  return numbers;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const machine = describeMachine();
  process.stdout.write(`meshlink benchmarks on ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node.js ${machine.node}, load ${machine.load.toFixed(1)}, ${machine.date}\n`);
  const chosen = chosenSections(process.argv.slice(2));
  const ran: Ran[] = [];
  for (const n of chosen) ran.push(await SECTIONS[n - 1]!());
  const sections = ran.map((r) => r.section);
  const failures = ran.flatMap((r) => r.failures);
  if (failures.length > 0) {
    process.stderr.write(`\nbenchmark checks failed:\n${failures.map((f) => `  ${f}`).join('\n')}\n`);
    process.exitCode = 1;
  }
  if (chosen.length < SECTIONS.length) {
    process.stdout.write(`\nsections ${chosen.join(', ')} only: ${path.relative(ROOT, OUTPUT)} is written by a whole run\n`);
    return;
  }
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
}

await main();
