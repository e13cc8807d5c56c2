// A create's independent writes run at once, so their waits on the store and the disk overlap
// (on the local adapters each write waits for fsyncs): the leaves' secrets while the CA's version
// is written, both leaves' versions, both sides' cluster writes, the host's and the port's claims.
// Writes that depend on another still wait for it: the claims, then the creation lease, then the
// CA, the leaves, the syncs, and the record last.
import { describe, expect, it, vi } from 'vitest';
import { applyLink } from '../../shared/app/provision.js';
import type { ClusterResolver, ClusterTarget } from '../../shared/clusters/port.js';
import type { SecretStore } from '../../shared/store/port.js';
import { specInput } from '../support/builders.js';
import { testApp } from '../support/app.js';

/** Each mint as it starts (kind), for the test to place among the writes. */
const mints = vi.hoisted(() => ({ onMint: (_kind: string) => {} }));

vi.mock('../../shared/pki/mint.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../shared/pki/mint.js')>();
  return {
    ...original,
    mintCa: (...args: Parameters<typeof original.mintCa>) => (mints.onMint('ca'), original.mintCa(...args)),
    mintLeaf: (...args: Parameters<typeof original.mintLeaf>) => (mints.onMint(args[0].side), original.mintLeaf(...args)),
  };
});

const STORE_WRITES = ['createSecret', 'addVersion', 'updateAnnotations', 'deleteSecret'];
// deleteByLabel, the sweep for objects under former names after the client's apply, finds none on a
// new link: a read, left out.
const CLUSTER_WRITES = ['apply', 'ensureServicePorts', 'removeServicePorts'];

/**
 * Records writes in waves: a write that starts while none is in flight opens a new wave, one that
 * starts while another is in flight joins the current one. Each write yields to the event loop
 * first, so writes started together are in flight together.
 */
class Waves {
  readonly waves: string[][] = [];
  inFlight = 0;

  wrap<T extends object>(inner: T, writes: string[], name: (method: string, args: unknown[]) => string): T {
    return new Proxy(inner, {
      get: (target, key, receiver) => {
        const value = Reflect.get(target, key, receiver);
        if (typeof key !== 'string' || !writes.includes(key) || typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          if (this.inFlight === 0) this.waves.push([]);
          this.waves.at(-1)!.push(name(key, args));
          this.inFlight++;
          try {
            await new Promise((resolve) => setImmediate(resolve));
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } finally {
            this.inFlight--;
          }
        };
      },
    });
  }
}

describe('creating a link', () => {
  /** The test app with its store and clusters recording waves of writes. */
  function recordedApp() {
    const app = testApp();
    const waves = new Waves();
    const role = (id: unknown) => String(id).replace(/^meshlink-(mysql-)?/, '').replace(/^(port|host)-[0-9a-f]+$/, '$1-claim');
    app.deps.store = waves.wrap<SecretStore>(app.deps.store, STORE_WRITES, (method, [id]) => `${method} ${role(id)}`);
    const clusters = app.deps.clusters;
    app.deps.clusters = {
      target: (cluster: string) => waves.wrap<ClusterTarget>(clusters.target(cluster), CLUSTER_WRITES, (method) => `${method} ${cluster}`),
    } satisfies ClusterResolver;
    return { app, waves };
  }

  it('makes its independent writes at once: 6 waves of writes, one after another', async () => {
    const { app, waves } = recordedApp();
    expect((await applyLink(app.deps, specInput())).created).toBe(true);

    expect(waves.waves.map((w) => [...w].sort())).toEqual([
      ['createSecret host-claim', 'createSecret port-claim'],
      ['createSecret ca'],
      ['addVersion ca', 'createSecret client', 'createSecret server'],
      ['addVersion client', 'addVersion server'],
      ['apply client-cluster', 'apply server-cluster', 'ensureServicePorts client-cluster', 'ensureServicePorts server-cluster'],
      ['createSecret link'],
    ]);
  });

  it('mints its CA and both leaves while its claims and creation lease are written, before the CA\'s version', async () => {
    const { app, waves } = recordedApp();
    const minted: { kind: string; wave: number; writing: boolean }[] = [];
    mints.onMint = (kind) => minted.push({ kind, wave: waves.waves.length, writing: waves.inFlight > 0 });
    try {
      expect((await applyLink(app.deps, specInput())).created).toBe(true);
    } finally {
      mints.onMint = () => {};
    }
    expect(minted.map((m) => m.kind).sort()).toEqual(['ca', 'client', 'server']);
    // Waves 1 and 2: the claims, the creation lease (the CA's version is wave 3).
    for (const m of minted) expect(m).toMatchObject({ writing: true, wave: expect.toSatisfy((n: number) => n >= 1 && n <= 2) });
  });

  it('writes nothing for a request its claims refuse, whatever it minted ahead', async () => {
    const app = testApp();
    await applyLink(app.deps, specInput());
    const writes = app.store.calls.createSecret + app.store.calls.addVersion;
    // Another link asking for the same gateway port on the same server cluster: a 400 naming it.
    await expect(applyLink(app.deps, specInput({ host: 'other.link.example.com' }, 'other'))).rejects.toMatchObject({ code: 'invalid-argument', details: [{ path: 'server.gatewayPort' }] });
    await new Promise((resolve) => setTimeout(resolve, 20)); // what was minted ahead is done with
    expect(app.store.calls.createSecret + app.store.calls.addVersion).toBe(writes);
  });

  it('reads each secret\'s versions once, as when it made its writes one after another', async () => {
    const app = testApp();
    expect((await applyLink(app.deps, specInput())).created).toBe(true);
    // The CA's and each leaf's (the leaves' listed while the CA's version is written, not again).
    expect(app.store.calls.listVersions).toBe(3);
  });
});
