// `meshlink`, the operator CLI: the program (commander), its commands, and the mapping of every
// outcome to an exit code: 0 success, 1 a failed operation or check, 2 a usage error.
import { Command, CommanderError } from 'commander';
import { registerApply } from './commands/apply.js';
import { registerCheck } from './commands/check.js';
import { registerObjectCommands } from './commands/objects.js';
import { registerRotation } from './commands/rotation.js';
import { CliContext, type CliIO } from './context.js';
import { CliError, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './errors.js';
import { reportError } from './report.js';
import { DEFAULT_SERVER } from './server.js';

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('meshlink')
    .description('operate a meshlink server: apply, inspect, rotate and check links')
    .option('-s, --server <url>', `meshlink API base URL (default: $MESHLINK_SERVER, else ${DEFAULT_SERVER})`)
    .option('--audience <url>', 'send a Google identity token for this audience (default: $MESHLINK_AUDIENCE, else one for a Cloud Functions or Cloud Run URL)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.stdout(s), writeErr: (s) => ctx.io.stderr(s) })
    .showHelpAfterError('(meshlink --help for usage)')
    .helpCommand(true);
  registerApply(program, ctx);
  registerObjectCommands(program, ctx);
  registerRotation(program, ctx);
  registerCheck(program, ctx);
  return program;
}

/** Runs one command line (arguments after the program name); resolves to the exit code. */
export async function main(args: string[], io: CliIO): Promise<number> {
  const ctx = new CliContext(io);
  try {
    await buildProgram(ctx).parseAsync(args, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end the parse too; anything else commander refuses is a usage error.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version' ? EXIT_OK : EXIT_USAGE;
    }
    reportError(io, err);
    return err instanceof CliError ? err.exitCode : EXIT_FAILED;
  }
}
