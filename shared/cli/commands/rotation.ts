// `rotate NAME [--scope leaf|ca]` and `sweep`: the rotation routes of the API.
import { Option, type Command } from 'commander';
import type { LinkStatus } from '../../app/status.js';
import type { ForceResult } from '../../app/rotate.js';
import type { SweepReport } from '../../app/sweep.js';
import { objectPath, type CliContext } from '../context.js';
import { serialize } from '../format.js';
import { outputOption } from '../options.js';
import { resourceKind } from '../resources.js';

const LINK = resourceKind('link');

/** What POST /links/{name}:rotate answers (functions/rotation.ts). */
type RotateAnswer = Omit<ForceResult, 'state'> & { status: LinkStatus };

export function registerRotation(program: Command, ctx: CliContext): void {
  program
    .command('rotate')
    .description('force a rotation now (suspected compromise): both leaves, or a full CA rollover')
    .argument('<name>', 'link name')
    .addOption(new Option('--scope <scope>', 'leaf: both leaves now; ca: a CA rollover with shortened grace').choices(['leaf', 'ca']).default('leaf'))
    .option('--request-id <id>', 'makes a retried request have one effect')
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (name: string, opts: { scope: 'leaf' | 'ca'; requestId?: string; output: 'text' | 'json' | 'yaml' }, command: Command) => {
      const body = { scope: opts.scope, ...(opts.requestId ? { requestId: opts.requestId } : {}) };
      const answer = await ctx.client(command).request('POST', `${objectPath(LINK, name)}:rotate`, { contentType: 'application/json', text: JSON.stringify(body) });
      if (opts.output !== 'text') return ctx.io.stdout(serialize(answer.body, opts.output));
      const r = answer.body as RotateAnswer;
      const what = r.scope === 'ca' ? 'CA rollover' : 'leaf rotation';
      const how = r.completed ? 'done' : 'under way (later sweeps finish it)';
      const notes = [r.duplicate ? 'a repeated request id: nothing new started' : '', r.continued ? 'continued a pending one' : '', r.steps.length ? `steps: ${r.steps.join(', ')}` : ''].filter(Boolean);
      ctx.io.stdout(`link/${name}: ${what} ${how}${notes.length ? ` (${notes.join('; ')})` : ''}\n`);
    });

  program
    .command('sweep')
    .description('run one rotation sweep now; exits 1 if a link failed')
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (opts: { output: 'text' | 'json' | 'yaml' }, command: Command) => {
      const report = (await ctx.client(command).request('POST', '/rotations:sweep')).body as SweepReport;
      if (report.errors.length) ctx.exitCode = 1;
      if (opts.output !== 'text') return ctx.io.stdout(serialize(report, opts.output));
      const lines = [`listed ${report.listed} link(s) in ${report.pages} page(s); ${report.due.length} due`];
      for (const d of report.due) lines.push(`  due      ${d.link}: ${d.reason}`);
      for (const r of report.rotated) lines.push(`  ${r.outcome.padEnd(8)} ${r.link}${r.steps.length ? `: ${r.steps.join(', ')}` : ''}`);
      for (const s of report.skipped) lines.push(`  skipped  ${s.link}: ${s.reason}`);
      for (const e of report.errors) lines.push(`  error    ${e.link}: ${e.error}`);
      ctx.io.stdout(lines.join('\n') + '\n');
    });
}
