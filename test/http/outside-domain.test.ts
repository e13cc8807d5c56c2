// functions-framework runs each request inside a node:domain, whose async hooks tag every promise
// made under it (functions/outside-domain.ts): meshlink's functions do their work outside it.
import domain from 'node:domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
