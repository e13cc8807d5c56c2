// Use-cases that only read: one link's status, and every link's (metadata listing + spec reads).
import { MeshlinkError } from '../errors.js';
import { STORE_LABEL_LINK } from '../link/names.js';
import { specDocument } from '../link/spec.js';
import type { AppDeps } from './deps.js';
import { listLinkSecrets, loadLink } from './link-record.js';
import { readSpec } from './provision.js';
import { linkStatus, type LinkStatus } from './status.js';

export async function getLink(deps: AppDeps, name: string): Promise<LinkStatus> {
  const record = await loadLink(deps, name);
  if (!record || !record.state.specVersion) throw new MeshlinkError('not-found', `link ${name} not found`);
  const spec = await readSpec(deps, record);
  return linkStatus(spec, specDocument(spec), record.state, { now: deps.clock(), settings: deps.settings });
}

export async function listLinks(deps: AppDeps): Promise<LinkStatus[]> {
  const names: string[] = [];
  for await (const meta of listLinkSecrets(deps)) {
    const name = meta.labels[STORE_LABEL_LINK];
    if (name) names.push(name);
  }
  names.sort();
  const out: LinkStatus[] = [];
  for (const name of names) {
    try {
      out.push(await getLink(deps, name));
    } catch (err) {
      if (err instanceof MeshlinkError && err.code === 'not-found') continue; // deleted meanwhile
      // A spec stored by older code that no longer validates must not hide every other link.
      if (!(err instanceof MeshlinkError && err.code === 'invalid-argument')) throw err;
      deps.log.error('leaving out a link whose stored spec no longer validates (post a valid spec, or delete it)', { link: name, reason: err.details.map((d) => `${d.path}: ${d.message}`).join('; ') });
    }
  }
  return out;
}
