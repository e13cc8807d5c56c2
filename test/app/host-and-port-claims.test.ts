// A link's host and gateway port claims taken together: both creates in flight at once (one wave
// of the create, not two), and should one fail while the other is in flight, the one taken is
// given back once its create is over; over each place claims are kept.
import { describe, expect, it } from 'vitest';
import type { AppDeps } from '../../shared/app/deps.js';
import { claimHostAndPort, hostClaimId, portClaimId } from '../../shared/app/port-claim.js';
import { MeshlinkError } from '../../shared/errors.js';
import { testApp } from '../support/app.js';
import { CLAIM_BACKENDS, useClaims, type ClaimBackend } from '../support/claim-backends.js';

const HOST = { cluster: 'client-cluster', host: 'mysql.link.example.com' };
const PORT = { cluster: 'server-cluster', port: 13306 };

type Kind = 'host' | 'port';
type Create = (kind: Kind, create: () => Promise<unknown>) => Promise<unknown>;

const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** Routes each claim create through `around` wherever the backend makes it (a secret, an object). */
function aroundClaimCreates(deps: AppDeps, around: Create): void {
  const kindOf = (id: string): Kind | undefined =>
    id === hostClaimId(deps.settings.secretPrefix, HOST) ? 'host' : id === portClaimId(deps.settings.secretPrefix, PORT) ? 'port' : undefined;
  const wrap = <T extends object>(inner: T, method: string): T =>
    new Proxy(inner, {
      get: (target, key, receiver) => {
        const value = Reflect.get(target, key, receiver);
        if (key !== method || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
        return (id: string, ...rest: unknown[]) => {
          const kind = kindOf(id);
          const create = () => value.call(target, id, ...rest) as Promise<unknown>;
          return kind ? around(kind, create) : create();
        };
      },
    });
  if (deps.claims) deps.claims = wrap(deps.claims, 'create');
  else deps.store = wrap(deps.store, 'createSecret');
}

describe.each(CLAIM_BACKENDS)('a link\'s host and port claims in %s', (backend: ClaimBackend) => {
  async function claimApp() {
    const app = testApp();
    return { ...app, view: await useClaims(backend, app.deps, app.clock) };
  }
  const holders = async (app: Awaited<ReturnType<typeof claimApp>>) => ({
    host: await app.view.holderOf(hostClaimId(app.deps.settings.secretPrefix, HOST)),
    port: await app.view.holderOf(portClaimId(app.deps.settings.secretPrefix, PORT)),
  });

  it('are created at once: both creates start before either ends', async () => {
    const app = await claimApp();
    const events: string[] = [];
    aroundClaimCreates(app.deps, async (kind, create) => {
      events.push(`start ${kind}`);
      try {
        return await create();
      } finally {
        events.push(`end ${kind}`);
      }
    });
    await claimHostAndPort(app.deps, 'mysql', HOST, PORT);
    expect(events.slice(0, 2).sort()).toEqual(['start host', 'start port']);
    expect(await holders(app)).toEqual({ host: 'mysql', port: 'mysql' });
  });

  describe.each<[Kind, Kind]>([
    ['host', 'port'],
    ['port', 'host'],
  ])('should the %s claim fail while the %s claim is in flight', (failing, other) => {
    it('the other is given back once its create is over, and the failure is thrown', async () => {
      const app = await claimApp();
      const events: string[] = [];
      aroundClaimCreates(app.deps, async (kind, create) => {
        if (kind === failing) {
          await ticks(1);
          events.push(`${kind} failed`);
          throw new MeshlinkError('unavailable', `the ${kind} claim's create failed`);
        }
        await ticks(10); // still in flight when the other fails
        const made = await create();
        events.push(`${kind} made`);
        return made;
      });
      await expect(claimHostAndPort(app.deps, 'mysql', HOST, PORT)).rejects.toMatchObject({ code: 'unavailable', message: `the ${failing} claim's create failed` });
      expect(await holders(app)).toEqual({ host: undefined, port: undefined });
      // Concurrent: the failure came while the other's create was in flight, which was then made.
      expect(events).toEqual([`${failing} failed`, `${other} made`]);
    });
  });

  it('a claim the link held before is kept when the other fails', async () => {
    const app = await claimApp();
    await claimHostAndPort(app.deps, 'mysql', HOST, undefined);
    aroundClaimCreates(app.deps, async (kind) => {
      throw new MeshlinkError('unavailable', `the ${kind} claim's create failed`);
    });
    await expect(claimHostAndPort(app.deps, 'mysql', HOST, PORT)).rejects.toMatchObject({ code: 'unavailable' });
    expect(await holders(app)).toEqual({ host: 'mysql', port: undefined });
  });
});
