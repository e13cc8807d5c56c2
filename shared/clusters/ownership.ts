// Invariant 6: an object labelled for another link is never overwritten. Both adapters read the
// live copies of what they are asked to apply and refuse the whole apply before any write.
import { MeshlinkError } from '../errors.js';
import { LABEL_LINK } from '../link/names.js';
import type { KubeObject } from './port.js';

/** The link another object's live copy is labelled for, when it is not the desired object's own. */
export function foreignOwner(desired: KubeObject, live: { metadata?: { labels?: Record<string, string> } } | null | undefined): string | undefined {
  const owner = live?.metadata?.labels?.[LABEL_LINK];
  return owner !== undefined && owner !== desired.metadata.labels?.[LABEL_LINK] ? owner : undefined;
}

/**
 * Throws a `conflict` (HTTP 409) naming every object whose live copy (same index in `live`) is
 * labelled for another link; returns when there is none.
 */
export function assertOwned(cluster: string, objects: KubeObject[], live: readonly ({ metadata?: { labels?: Record<string, string> } } | null | undefined)[]): void {
  const taken = objects.flatMap((object, i) => {
    const owner = foreignOwner(object, live[i]);
    return owner === undefined ? [] : [{ object, owner }];
  });
  if (taken.length === 0) return;
  const describe = ({ object, owner }: (typeof taken)[number]) =>
    `${object.kind} ${object.metadata.namespace ?? ''}/${object.metadata.name} on cluster ${cluster} belongs to link ${owner}`;
  const link = taken[0]!.object.metadata.labels?.[LABEL_LINK] ?? '';
  throw new MeshlinkError('conflict', `link ${link} would overwrite objects of another link: ${taken.map(describe).join('; ')}`, {
    details: taken.map((t) => ({ path: 'name', message: describe(t) })),
  });
}
