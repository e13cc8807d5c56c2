// Use-cases that only read: one link's status, every link's (metadata listing + spec reads), and
// every link's summary (the metadata listing alone).
import { MeshlinkError } from '../errors.js';
import { STORE_LABEL_LINK } from '../link/names.js';
import { specDocument } from '../link/spec.js';
import { decodeState, specStored, trustedGenerations } from '../link/state.js';
import { caBundle } from './credentials.js';
import { errorFields } from '../log.js';
import type { AppDeps } from './deps.js';
import { issuerTarget } from './issuers.js';
import { listLinkSecrets, loadLink } from './link-record.js';
import { readSpec } from './stored-spec.js';
import { linkStatus, linkSummary, type LinkStatus, type LinkSummary } from './status.js';

export async function getLink(deps: AppDeps, name: string): Promise<LinkStatus> {
  const record = await loadLink(deps, name);
  if (!record || !specStored(record.state)) throw new MeshlinkError('not-found', `link ${name} not found`);
  const spec = await readSpec(deps, record);
  const issuer = spec.issuer ? await issuerTarget(deps, spec.issuer) : undefined;
  return linkStatus(spec, specDocument(spec), record.state, { now: deps.clock(), settings: deps.settings, ...(issuer ? { issuer } : {}) });
}

/**
 * What a partner must trust (GET /links/{name}/ca.pem): the certificates of every CA the link
 * holds, so the old and the new one during a rollover. Certificates only: no key leaves the store.
 */
export async function linkCaBundle(deps: AppDeps, name: string): Promise<string> {
  const record = await loadLink(deps, name);
  if (!record || !specStored(record.state) || record.state.cas.length === 0) throw new MeshlinkError('not-found', `link ${name} not found`);
  return caBundle(deps, name, record.state, trustedGenerations(record.state));
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

/**
 * Every link's summary from the metadata listing alone, by name: no spec or payload read, so a
 * page that reloads itself costs one store read per page of links (Secret Manager allows 600 a
 * minute). A link whose state cannot be read is logged and left out (the sweep reports it too).
 */
export async function listLinkSummaries(deps: AppDeps): Promise<LinkSummary[]> {
  const out: LinkSummary[] = [];
  for await (const meta of listLinkSecrets(deps)) {
    const name = meta.labels[STORE_LABEL_LINK];
    if (!name) continue;
    try {
      const state = decodeState(meta.annotations, meta.id);
      if (state && specStored(state)) out.push(linkSummary(name, state));
    } catch (err) {
      deps.log.warn('link state cannot be read; left out of the summary', { link: name, secret: meta.id, ...errorFields(err) });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
