// Fuzz: methods, paths and rotate bodies through the real HTTP function. Reads answer 2xx, every
// other request a JSON 4xx, and none changes anything (the deletes and forced rotations of the
// seeded links that would be valid are the only requests left out).
import fc from 'fast-check';
import { describe, expect } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { method, parserRefuses, path, routedPath, rotateDoc, isValidRotateDoc, shortBody } from './arbitraries/requests.js';
import { defectProperty, isOpen } from './defects.js';
import { detailPaths, expectNoKeyMaterial, expectRefused, expectWellFormed, itKeepsTheSeedsRotating } from './expect.js';
import { changedPaths, fuzzProperty, SEED_NAMES, send, useWorld } from './harness.js';

const SEED_PATH = new RegExp(`^/links/(${SEED_NAMES.join('|')})$`);
const SEED_ROTATE_PATH = new RegExp(`^/links/(${SEED_NAMES.join('|')}):rotate$`);
const SEED_CA_PATH = new RegExp(`^/links/(${SEED_NAMES.join('|')})/ca\\.pem$`);
/** A probe of a seeded link dials its gateway and records the verdict: valid, and it writes. */
const SEED_PROBE_PATH = new RegExp(`^/links/(${SEED_NAMES.join('|')}):probe$`);

/** The status pages (HTML for people): GET / and GET /ui/links/{name}. */
const PAGE_PATH = /^\/(ui\/links\/[a-z0-9][-a-z0-9]{0,62})?$/;

/** Requests the API answers with 2xx and no change: reads, and a sweep with nothing due. */
function isRead(m: string, p: string): boolean {
  const routed = routedPath(p);
  if (m === 'GET') return ['/links', '/links/', '/healthz', '/issuers', '/issuers/'].includes(routed) || SEED_PATH.test(routed);
  return m === 'POST' && routed === '/rotations:sweep';
}

/** Media types a rotate body may come in, readable by the framework or not. */
const rotateType = fc.constantFrom<string | undefined>('application/json', 'application/yaml', 'text/plain', 'application/json; charset=bogus', 'foo', ';', '', undefined);

/** Content types the framework cannot parse or that are missing: it hands over no body (#7). */
function unreadableType(type: string | undefined): boolean {
  // A type whose media type is empty (none, "", ";") is read as JSON, as POST /links reads it.
  const media = mediaTypeOf(type);
  return media !== '' && !/^[^/\s]+\/[^/\s]+$/.test(media);
}

function mediaTypeOf(type: string | undefined): string {
  return (type ?? '').split(';')[0]!.trim().toLowerCase();
}

function encodeRotate(doc: unknown, type: string | undefined): string {
  return type === 'application/yaml' ? toYaml(doc) : JSON.stringify(doc);
}

describe('fuzz: methods, paths and rotate bodies', () => {
  const world = useWorld();

  fuzzProperty(
    'any method on any path: reads 2xx, the rest a JSON 4xx (a bare 400 where the parser refuses the method), nothing changed',
    () =>
      fc.asyncProperty(method, path, shortBody, async (m, p, body) => {
        const routed = routedPath(p);
        // Valid and effectful: deleting or force-rotating a seeded link.
        fc.pre(!(m === 'DELETE' && SEED_PATH.test(routed)) && !(m === 'POST' && SEED_ROTATE_PATH.test(routed) && body === '{"scope":"ca"}') && !(m === 'POST' && SEED_PROBE_PATH.test(routed)));
        const before = await world.snapshot();
        const res = await send(world.urls.api, { method: m, path: p, ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}) });
        expectNoKeyMaterial(world, res);
        expect(changedPaths(before, await world.snapshot())).toEqual([]);
        if (m === 'HEAD') {
          // No body in an answer to HEAD: only the status tells.
          expect(res.status === 200 || (res.status >= 400 && res.status < 500), `${res.status}`).toBe(true);
          return;
        }
        if (m === 'GET' && PAGE_PATH.test(routed) && !parserRefuses(m, p)) {
          // A page, found or not, is HTML (its headers are tested in test/ui): never a trace.
          expect([200, 404], res.text).toContain(res.status);
          expect(res.contentType).toMatch(/^text\/html/);
          expect(res.text).not.toMatch(/\bat .+:\d+:\d+/);
          return;
        }
        if (m === 'GET' && SEED_CA_PATH.test(routed) && !parserRefuses(m, p)) {
          // What the partner must trust: certificates only.
          expect(res.status, res.text).toBe(200);
          expect(res.contentType).toMatch(/^application\/x-pem-file/);
          expect(res.text).toMatch(/^-----BEGIN CERTIFICATE-----/);
          return;
        }
        if (isRead(m, p) && !parserRefuses(m, p)) {
          expect(res.status, res.text).toBe(200);
          expect(res.contentType).toMatch(/^application\/json/);
          return;
        }
        expectWellFormed(res, { bareParserError: parserRefuses(m, p) });
        expect(res.status, res.text).toBeGreaterThanOrEqual(400);
      }),
  );

  fuzzProperty(
    "any rotate body: a valid one rotates (here: a 404 for a link that is not there), the rest a 400 naming the field or a 415, nothing changed",
    () =>
      fc.asyncProperty(fc.constantFrom(...SEED_NAMES), rotateDoc, rotateType, async (seed, doc, type) => {
        const body = encodeRotate(doc, type);
        fc.pre(!isOpen(7, unreadableType(type)));
        // JSON has no charset parameter (RFC 8259 section 11: it has no effect), so `charset=bogus` reads as UTF-8.
        const valid = isValidRotateDoc(doc) && ['', 'application/json', 'application/yaml'].includes(mediaTypeOf(type));
        const before = await world.snapshot();
        const res = await send(world.urls.api, { method: 'POST', path: `/links/${valid ? 'nosuch' : seed}:rotate`, headers: type !== undefined ? { 'content-type': type } : {}, body });
        expectNoKeyMaterial(world, res);
        if (valid) {
          expectRefused(res, before, await world.snapshot(), 404);
          return;
        }
        expectRefused(res, before, await world.snapshot(), [400, 415]);
        if (res.status === 400 && res.json.error === 'invalid rotation request') expect(detailPaths(res).length).toBeGreaterThan(0);
      }),
  );

  itKeepsTheSeedsRotating(world);
});

describe('fuzz: rotate bodies, the open defects', () => {
  defectProperty(
    7,
    'a rotate body under a Content-Type the server cannot read ("foo") is a 415, not "scope is required"',
    (world) => {
      return fc.asyncProperty(fc.constantFrom(...SEED_NAMES), rotateDoc, rotateType.filter(unreadableType), async (seed, doc, type) => {
        const before = await world.snapshot();
        const res = await send(world.urls.api, { method: 'POST', path: `/links/${seed}:rotate`, headers: type !== undefined ? { 'content-type': type } : {}, body: encodeRotate(doc, type) });
        expectWellFormed(res);
        expectRefused(res, before, await world.snapshot(), 415);
      });
    },
    [['mysql', { scope: 'leaf' }, 'foo']],
  );
});
