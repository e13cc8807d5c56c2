// The kinds of object the CLI knows: each is one entry here (its API collection, its `kind:` in
// apply documents, its table columns), so get, delete and apply learn a new kind from this table.
import type { IssuerStatus } from '../app/issuers.js';
import type { LinkStatus } from '../app/status.js';
import { usageError } from './errors.js';
import { relativeTime } from './format.js';

export interface ResourceKind {
  /** Singular, as typed and printed: `link` (`link/mysql created`). */
  name: string;
  /** Plural and API collection: `links` is `/links`, listed as `{"links": [...]}`. */
  plural: string;
  /** The `kind:` naming it in an apply document. */
  documentKind: string;
  /** A server may not have it yet: a 404 on its collection is "not supported by this server". */
  optional: boolean;
  columns: string[];
  row(item: Record<string, unknown>, now: Date): string[];
}

type LinkRow = Partial<Pick<LinkStatus, 'name' | 'phase' | 'nextRenewal'>> & {
  client?: Partial<LinkStatus['client']>;
  server?: Partial<LinkStatus['server']>;
  rotation?: Partial<LinkStatus['rotation']>;
};

const SIDES = ['client', 'server'] as const;

/** "synced" when both sides are, else what each unsynced side is: `server:error`. */
export function syncSummary(link: LinkRow): string {
  const off = SIDES.filter((s) => link[s]?.sync?.status !== 'synced').map((s) => `${s}:${link[s]?.sync?.status ?? 'unknown'}`);
  return off.length === 0 ? 'synced' : off.join(',');
}

/** The earlier of the two leaves' expiry. */
export function firstLeafExpiry(link: LinkRow): string | undefined {
  return SIDES.map((s) => link[s]?.notAfter)
    .filter((t): t is string => typeof t === 'string')
    .sort()[0];
}

const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '-' : String(v));

export const RESOURCES: ResourceKind[] = [
  {
    name: 'link',
    plural: 'links',
    documentKind: 'Link',
    optional: false,
    columns: ['NAME', 'CLIENT', 'SERVER', 'PHASE', 'SYNC', 'CA', 'EXPIRES', 'RENEWS'],
    row: (item, now) => {
      const link = item as LinkRow;
      return [
        str(link.name),
        str(link.client?.cluster),
        str(link.server?.cluster),
        str(link.phase),
        syncSummary(link),
        str(link.rotation?.signingGeneration),
        relativeTime(firstLeafExpiry(link), now),
        relativeTime(link.nextRenewal, now),
      ];
    },
  },
  {
    // An older server without the issuers API answers 404 on /issuers. Columns: app/issuers.ts IssuerStatus.
    name: 'issuer',
    plural: 'issuers',
    documentKind: 'Issuer',
    optional: true,
    columns: ['NAME', 'TYPE', 'ROOT', 'EXPIRES', 'LINKS', 'AGE'],
    row: (item, now) => {
      const issuer = item as Partial<IssuerStatus>;
      return [
        str(issuer.name),
        str(issuer.type),
        str(issuer.root?.subject ?? issuer.roots?.[0]?.subject), // a CA pool: its first root
        relativeTime(issuer.notAfter, now),
        String(issuer.links?.length ?? '-'),
        relativeTime(issuer.createdAt, now).replace(/ ago$/, ''),
      ];
    },
  },
];

/** `link`, `links`, `issuer` or `issuers`; anything else is a usage error naming the kinds. */
export function resourceKind(word: string): ResourceKind {
  const w = word.toLowerCase();
  const kind = RESOURCES.find((r) => r.name === w || r.plural === w);
  if (!kind) throw usageError(`unknown kind "${word}": one of ${RESOURCES.map((r) => r.plural).join(', ')}`);
  return kind;
}

/** The kind an apply document names (`kind: Issuer`); no `kind` is a link, the API's own spec. */
export function documentKind(kind: unknown): ResourceKind | undefined {
  if (kind === undefined) return RESOURCES[0];
  return RESOURCES.find((r) => typeof kind === 'string' && r.documentKind.toLowerCase() === kind.toLowerCase());
}
