// `get`, `describe` and `delete`: reading and removing objects of the kinds in resources.ts.
import type { Command } from 'commander';
import type { LinkStatus } from '../../app/status.js';
import { aboutKind, listKind, objectPath, type CliContext } from '../context.js';
import { describeLink } from '../describe.js';
import { usageError } from '../errors.js';
import { renderTable, serialize, type OutputFormat } from '../format.js';
import { outputOption } from '../options.js';
import { RESOURCES, resourceKind } from '../resources.js';

const kinds = (pick: 'name' | 'plural') => RESOURCES.map((r) => r[pick]).join('|');

export function registerObjectCommands(program: Command, ctx: CliContext): void {
  program
    .command('get')
    .description(`list objects, or show one: ${kinds('plural')}`)
    .argument('<kind>', kinds('plural'))
    .argument('[name]', 'one object by name')
    .addOption(outputOption())
    .action(async (word: string, name: string | undefined, opts: { output: OutputFormat }, command: Command) => {
      const kind = resourceKind(word);
      const client = ctx.client(command);
      const items = name ? [(await aboutKind(client, kind, () => client.request('GET', objectPath(kind, name)))).body as Record<string, unknown>] : await listKind(client, kind);
      if (opts.output !== 'table') {
        ctx.io.stdout(serialize(name ? items[0] : { [kind.plural]: items }, opts.output));
        return;
      }
      if (items.length === 0) {
        ctx.io.stderr(`No ${kind.plural} found.\n`);
        return;
      }
      const now = ctx.io.now();
      ctx.io.stdout(renderTable(kind.columns, items.map((item) => kind.row(item, now))));
    });

  program
    .command('describe')
    .description('a link in words: both sides, expiry and renewal, CA generations, phase, sync, errors')
    .argument('<kind>', 'link')
    .argument('<name>')
    .action(async (word: string, name: string, _opts: unknown, command: Command) => {
      const kind = resourceKind(word);
      if (kind.name !== 'link') throw usageError(`describe supports links only, not ${kind.plural}`);
      const answer = await ctx.client(command).request('GET', objectPath(kind, name));
      ctx.io.stdout(describeLink(answer.body as LinkStatus, ctx.io.now()));
    });

  program
    .command('delete')
    .description(`delete an object (${kinds('name')}) and everything it put on its clusters`)
    .argument('<kind>', kinds('name'))
    .argument('<name>')
    .option('--force', 'links: give up what a cluster that does not answer still holds (a cluster gone for good)')
    .action(async (word: string, name: string, opts: { force?: boolean }, command: Command) => {
      const kind = resourceKind(word);
      const client = ctx.client(command);
      const path = objectPath(kind, name) + (opts.force && kind.name === 'link' ? '?force=true' : '');
      const answer = await aboutKind(client, kind, () => client.request('DELETE', path));
      const left = answer.body as { pending?: unknown[]; abandoned?: unknown[] } | undefined;
      if (left?.pending?.length) ctx.io.stdout(`${kind.name}/${name} deleted; ${left.pending.length} place(s) whose cluster did not answer are left for the sweep (--force gives them up)\n`);
      else if (left?.abandoned?.length) ctx.io.stdout(`${kind.name}/${name} deleted; ${left.abandoned.length} place(s) given up\n`);
      else ctx.io.stdout(`${kind.name}/${name} deleted\n`);
    });
}
