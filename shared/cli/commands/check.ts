// `check` (like `linkerd check`): gathers what the API reports, evaluates the named conditions of
// checks.ts, prints one line per condition with a mark; exit 1 if any fails.
import type { Command } from 'commander';
import type { LinkStatus } from '../../app/status.js';
import { checkLine, issuerChecks, linkChecks, type CheckResult, type IssuerView } from '../checks.js';
import { listKind, NotSupportedError, type CliContext } from '../context.js';
import { serialize } from '../format.js';
import { outputOption } from '../options.js';
import { errorText } from '../report.js';
import { resourceKind } from '../resources.js';

const LINKS = resourceKind('links');
const ISSUERS = resourceKind('issuers');

async function gather(ctx: CliContext, command: Command): Promise<CheckResult[]> {
  const client = ctx.client(command);
  const subject = client.server.origin;
  try {
    await client.request('GET', '/healthz');
  } catch (err) {
    return [{ check: 'server', subject, status: 'failed', message: errorText(err).replace(/^error: /, '').trim().split('\n').join('; ') }];
  }
  const results: CheckResult[] = [{ check: 'server', subject, status: 'ok', message: 'the server answers' }];
  const links = (await listKind(client, LINKS)) as unknown as LinkStatus[];
  let issuers: IssuerView[] | 'unsupported';
  try {
    issuers = (await listKind(client, ISSUERS)) as unknown as IssuerView[];
  } catch (err) {
    if (err instanceof NotSupportedError) issuers = 'unsupported';
    else throw err;
  }
  if (links.length === 0) results.push({ check: 'links', subject: 'links', status: 'ok', message: 'no links' });
  return [...results, ...linkChecks(links, ctx.io.now()), ...issuerChecks(issuers, links)];
}

export function registerCheck(program: Command, ctx: CliContext): void {
  program
    .command('check')
    .description('check the server and every link (sync, renewals, cleanup, issuers); exit 1 if any check fails')
    .addOption(outputOption(['text', 'json']))
    .action(async (opts: { output: 'text' | 'json' }, command: Command) => {
      const results = await gather(ctx, command);
      const ok = results.every((r) => r.status !== 'failed');
      if (!ok) ctx.exitCode = 1;
      if (opts.output === 'json') ctx.io.stdout(serialize({ ok, checks: results }, 'json'));
      else ctx.io.stdout(results.map(checkLine).join('\n') + `\n\n${ok ? 'Status check results are √' : 'Status check results are ×'}\n`);
    });
}
