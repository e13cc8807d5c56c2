// The route table: a name in a path is checked by the spec's own rule (a link's by `name`, an
// issuer's by `issuer`), so a name the spec refuses is a 400 naming `name` on every route that
// takes one, before any use-case runs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { handleApiRequest, type ApiRequest } from '../../functions/http-api.js';
import { makeRotationRoutes } from '../../functions/rotation.js';
import { uiRoutes } from '../../functions/ui.js';
import { isIssuerName, isLinkName, MAX_NAME_LENGTH } from '../../shared/link/spec.js';
import { testApp } from '../support/app.js';

const extraRoutes = [...makeRotationRoutes(async () => ({ enqueue: async () => [] })), ...uiRoutes];

type Answer = { status: number; error?: string; details?: { path: string; message: string }[] };

async function call(method: string, path: string): Promise<Answer> {
  const req: ApiRequest = { method, path, contentType: 'application/json', body: Buffer.from('{"scope":"leaf"}') };
  const res = await handleApiRequest(testApp().deps, req, extraRoutes);
  const body = res.body as Answer | undefined;
  return { status: res.status, error: body?.error, ...(body?.details ? { details: body.details } : {}) };
}

const refusedName = (what: string) => ({ status: 400, error: `invalid ${what}`, details: [{ path: 'name', message: expect.any(String) }] });

const LINK_ROUTES: [string, (name: string) => string][] = [
  ['GET', (n) => `/links/${n}`],
  ['DELETE', (n) => `/links/${n}`],
  ['GET', (n) => `/links/${n}/ca.pem`],
  ['POST', (n) => `/links/${n}:rotate`],
  ['GET', (n) => `/ui/links/${n}`],
];
const ISSUER_ROUTES: [string, (name: string) => string][] = [
  ['GET', (n) => `/issuers/${n}`],
  ['DELETE', (n) => `/issuers/${n}`],
];

/** Names near the rule's edges: any length to 70, lowercase, digits, dashes, and a few outsiders. */
const name = fc.string({ unit: fc.constantFrom('a', 'z', '0', '9', '-', '-', 'A', '.', '_'), minLength: 1, maxLength: 70 });

describe('route names follow the spec', () => {
  it(`a link name of ${MAX_NAME_LENGTH + 1} to 63 characters (a DNS label, but not a link name) is a 400 naming name`, async () => {
    for (const length of [MAX_NAME_LENGTH + 1, 63]) {
      const long = 'a'.repeat(length);
      for (const [method, path] of LINK_ROUTES) expect(await call(method, path(long)), `${method} ${path(long)}`).toEqual(refusedName('link name'));
    }
  });

  it('any name: refused before any use-case exactly when the spec refuses it', async () => {
    await fc.assert(
      fc.asyncProperty(name, async (n) => {
        for (const [routes, isName, what] of [[LINK_ROUTES, isLinkName, 'link name'], [ISSUER_ROUTES, isIssuerName, 'issuer name']] as const) {
          for (const [method, path] of routes) {
            const res = await call(method, path(n));
            expect(res.error === `invalid ${what}`, `${method} ${path(n)}: ${res.status} ${res.error}`).toBe(!isName(n));
            if (!isName(n)) expect(res).toEqual(refusedName(what));
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it('a name that does not fit one route may fit another: GET /links/mysql:rotate is the rotate route (405)', async () => {
    expect(await call('GET', '/links/mysql:rotate')).toEqual({ status: 405, error: 'method GET not allowed on /links/mysql:rotate' });
    expect(await call('GET', '/links/mysql:probe')).toEqual(refusedName('link name'));
  });

  it('an issuer name may have up to 63 characters, as the spec takes it', async () => {
    const long = 'a'.repeat(63);
    expect(await call('GET', `/issuers/${long}`)).toMatchObject({ status: 404, error: expect.stringMatching(/not found/) });
  });

  it('paths are case-sensitive, strict on the trailing slash, and never percent-decoded', async () => {
    for (const path of ['/LINKS', '/links/mysql/', '/Healthz', '/links/%6Dysql', '/links/%6Dysql/ca.pem', '/links/%ff', '/links/mysql/ca.pem/']) expect(await call('GET', path), path).toEqual({ status: 404, error: `no route for ${path}` });
    expect((await call('GET', '/links/')).status).toBe(200);
  });

  it('a method a path does not take is a 405, HEAD and OPTIONS included', async () => {
    for (const method of ['HEAD', 'OPTIONS', 'PATCH', 'FOO']) expect(await call(method, '/links'), method).toEqual({ status: 405, error: `method ${method} not allowed on /links` });
  });
});
