// Request lines and rotate bodies: methods (known, unknown, lowercase), paths (route-like,
// percent-encoded, dot segments, queries, long) and the bodies of POST /links/{name}:rotate.
import fc from 'fast-check';
import { SEED_NAMES } from '../harness.js';

export const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'M-SEARCH', 'FOO', 'get', 'DELETE ');

/** Request lines Node's HTTP parser refuses itself (a bare 400 before any function runs): an unknown method, a byte outside printable ASCII in the target. */
export function parserRefuses(m: string, p: string): boolean {
  return !/^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|TRACE|M-SEARCH)$/.test(m) || /[^\x21-\x7e]/.test(p);
}

const segment = fc.oneof(
  fc.constantFrom(...SEED_NAMES, 'links', 'fuzz', 'nosuch', 'nosuch:probe', 'issuers', 'healthz', 'events', 'cluster-registration', 'rotations:sweep'),
  fc.constantFrom(...SEED_NAMES).chain((n) => fc.constantFrom(`${n}:rotate`, `${n}:probe`, `${n}:probe:rotate`, `${n}/ca.pem`, `${n}:ROTATE`, `${n}:rotate:rotate`, `${n}%3Arotate`, `${n}:sweep`, `${n.toUpperCase()}`, `${n}.`, `%6D${n.slice(1)}`)),
  fc.constantFrom('..', '.', '%2e%2e', '%2F', '%00', '%ff', '%', 'é', '*', ':rotate', '', 'x'.repeat(300), 'a'.repeat(64)),
  fc.webSegment(),
);

export const path = fc
  .tuple(fc.array(segment, { minLength: 0, maxLength: 4 }), fc.boolean(), fc.constantFrom('', '', '?x=1', '?name=mysql', '#frag', '?%zz', '?scope=leaf'))
  .map(([segments, slash, query]) => `/${segments.join('/')}${slash && segments.length ? '/' : ''}${query}`);

/** The path the router sees: no query, no fragment. */
export function routedPath(p: string): string {
  return p.split(/[?#]/)[0]!;
}

export const shortBody = fc.constantFrom<string | undefined>(undefined, '{}', '[]', 'garbage', '{"scope":"ca"}', '{"name":"mysql"}');

const scope = fc.constantFrom<unknown>('leaf', 'ca', 'LEAF', 'Leaf', '', 'both', null, 1, ['leaf'], { scope: 'leaf' });
const requestId = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
  fc.constantFrom<unknown>('', 'x'.repeat(129), 'a b', 'é', 'a/b', '../x', null, 42, ['id']),
  fc.string({ maxLength: 20 }),
);

/** A rotate request's decoded body: an object with any of its fields (and others), or not an object. */
export const rotateDoc = fc.oneof(
  { weight: 4, arbitrary: fc.record({ scope, requestId, extra: fc.constantFrom<unknown>('x', 1, null) }, { requiredKeys: [] }).map(({ extra, ...rest }) => (extra === undefined ? rest : { ...rest, [String(extra)]: extra })) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

/** The rotate body rule as the README states it: {scope: leaf | ca, requestId?: 1-128 of A-Za-z0-9._:-}, nothing else. */
export function isValidRotateDoc(doc: unknown): boolean {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return false;
  const { scope: s, requestId: id, ...rest } = doc as Record<string, unknown>;
  return Object.keys(rest).length === 0 && (s === 'leaf' || s === 'ca') && (id === undefined || (typeof id === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(id)));
}
