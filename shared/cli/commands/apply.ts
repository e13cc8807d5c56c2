// `apply -f FILE|-`: every document of the file, a link POSTed to /links, an issuer PUT to
// /issuers/{name} (its `bundle` as PEM, or its `type` and `secret` as JSON). The file is parsed whole first (a bad file sends nothing); a refused
// document does not stop the others.
import type { Command } from 'commander';
import { aboutKind, objectPath, type CliContext } from '../context.js';
import { readSource, parseDocuments } from '../documents.js';
import { reportError } from '../report.js';

export function registerApply(program: Command, ctx: CliContext): void {
  program
    .command('apply')
    .description('create or update links (and issuers) from YAML or JSON, one or several documents')
    .requiredOption('-f, --filename <file>', 'file to apply, - for standard input')
    .action(async (opts: { filename: string }, command: Command) => {
      const source = opts.filename === '-' ? 'standard input' : opts.filename;
      const docs = parseDocuments(await readSource(opts.filename, ctx.io.stdin), source);
      const client = ctx.client(command);
      for (const doc of docs) {
        const label = `${doc.kind.name}/${doc.name ?? `(document ${doc.position})`}`;
        try {
          const answer = await aboutKind(client, doc.kind, () => {
            if (doc.kind.name !== 'issuer') return client.request('POST', `/${doc.kind.plural}`, { contentType: 'application/json', text: JSON.stringify(doc.body) });
            // An issuer: its `bundle` as PEM, or where the organisation keeps it (`type`, `secret`) as JSON.
            const { name: _name, bundle, ...where } = doc.body;
            const body = typeof bundle === 'string' ? { contentType: 'application/x-pem-file', text: bundle } : { contentType: 'application/json', text: JSON.stringify(where) };
            return client.request('PUT', objectPath(doc.kind, doc.name ?? ''), body);
          });
          ctx.io.stdout(`${label} ${answer.status === 201 ? 'created' : 'applied'}\n`);
        } catch (err) {
          reportError(ctx.io, err, label);
          ctx.exitCode = 1;
        }
      }
    });
}
