// functions-framework runs each request inside a node:domain, whose async hooks tag every promise
// made under it (functions/outside-domain.ts): meshlink's functions do their work outside it, and
// its HTTP functions make none (functions/framework-errors.ts): the first domain made enables the
// hooks for every promise of the process, in a domain or not.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import domain from 'node:domain';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as ff from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import '../../functions/index.js';
import { FUNCTION_NAMES } from '../../functions/names.js';
import { outsideDomain } from '../../functions/outside-domain.js';
import { setRuntimeDeps } from '../../functions/runtime.js';
import type { SecretStore } from '../../shared/store/port.js';
import { specInput } from '../support/builders.js';
import { testApp } from '../support/app.js';
import { listenCounting, type CountingServer } from '../support/http.js';

const activeDomain = () => (process as { domain?: unknown }).domain ?? undefined;

describe('outsideDomain', () => {
  it('runs the work, awaits included, with no active domain, and leaves the caller in its domain', async () => {
    const d = domain.create();
    const seen = await new Promise<{ inside: unknown[]; after: unknown }>((resolve, reject) => {
      d.on('error', reject);
      d.run(() => {
        const inside: unknown[] = [];
        const work = outsideDomain(async () => {
          inside.push(activeDomain());
          await new Promise((r) => setTimeout(r, 1));
          inside.push(activeDomain());
        });
        const after = activeDomain();
        work.then(() => resolve({ inside, after }), reject);
      });
    });
    expect(seen.inside).toEqual([undefined, undefined]);
    expect(seen.after).toBe(d);
  });

  it('runs the work as it is where no domain is active', async () => {
    expect(await outsideDomain(async () => 42)).toBe(42);
  });
});

describe(`the ${FUNCTION_NAMES.api} function behind functions-framework`, () => {
  const app = testApp({ start: new Date().toISOString() });
  /** The active domain at each store call the use-cases make. */
  const domains: unknown[] = [];
  let server: CountingServer;

  beforeAll(async () => {
    const store = new Proxy(app.deps.store, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          domains.push(activeDomain());
          return value.apply(target, args);
        };
      },
    }) as SecretStore;
    setRuntimeDeps({ ...app.deps, store });
    server = await listenCounting(FUNCTION_NAMES.api);
  });
  afterAll(async () => {
    setRuntimeDeps(undefined);
    await server.close();
  });

  it('creates a link with no domain active at any store call', async () => {
    const res = await fetch(`${server.url}/links`, { method: 'POST', body: JSON.stringify(specInput()), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(201);
    expect(domains.length).toBeGreaterThan(5);
    expect(domains.filter((d) => d !== undefined)).toEqual([]);
  });
});

describe('HTTP functions behind functions-framework', () => {
  ff.http('test-throws', () => {
    throw new Error('thrown by the handler');
  });
  ff.http('test-rejects', async () => {
    await Promise.resolve();
    throw new Error('rejected by the handler');
  });
  const app = testApp({ start: new Date().toISOString() });
  beforeAll(() => setRuntimeDeps(app.deps));
  afterAll(() => setRuntimeDeps(undefined));
  afterEach(() => vi.restoreAllMocks());

  async function serve(name: string, run: (url: string) => Promise<void>): Promise<void> {
    const server = getTestServer(name) as unknown as Server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  it(`serve ${FUNCTION_NAMES.api} requests without making a domain`, async () => {
    const create = vi.spyOn(domain, 'create');
    await serve(FUNCTION_NAMES.api, async (url) => {
      const res = await fetch(`${url}/links`, { method: 'POST', body: JSON.stringify(specInput()), headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(201);
    });
    expect(create).not.toHaveBeenCalled();
  });

  it.each(['test-throws', 'test-rejects'])('answer a handler\'s unexpected error (%s) with a JSON 500, no stack trace', async (name) => {
    const errors: unknown[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args) => void errors.push(args));
    await serve(name, async (url) => {
      const res = await fetch(`${url}/`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ error: 'internal error' });
      expect(text).not.toMatch(/ by the handler|at /);
    });
  });
});
