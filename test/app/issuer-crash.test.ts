// Invariant 5 for issuers: a crash after any single write of importing an issuer, or of creating
// a link under one (a bundle, or a CA Service pool), leaves a state that repeating the request
// completes: one working issuer, and a link whose Secrets chain to the root.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getIssuer, putIssuerBundle, putIssuerReference } from '../../shared/app/issuers.js';
import { forceRotation } from '../../shared/app/rotate.js';
import { PrivateCaService } from '../../shared/cas/private-ca-service.js';
import type { Clock } from '../../shared/clock.js';
import { loadLink } from '../../shared/app/link-record.js';
import { storeSecretId } from '../../shared/link/names.js';
import { startFakeCas, type FakeCas } from '../fakes/cas-server.js';
import { applyLink } from '../../shared/app/provision.js';
import { SIDES } from '../../shared/link/names.js';
import { chainsToAny } from '../../shared/pki/inspect.js';
import { testApp } from '../support/app.js';
import { specInput } from '../support/builders.js';
import { clusterCredential } from '../support/cluster-trust.js';
import { CrashingClusters, CrashingStore, CrashPlan, SimulatedCrash } from '../support/crash.js';
import { opensslIntermediate, opensslRoot, pemBundle, type OpensslCa } from '../support/openssl-ca.js';

let root: OpensslCa;
let bundle: string;
const POOL = 'projects/acme-pki/locations/europe-west1/caPools/crash';
let fake: FakeCas;
let cas: PrivateCaService;
let now: Clock = () => new Date();

beforeAll(async () => {
  root = opensslRoot('/CN=Crash Root');
  bundle = pemBundle(opensslIntermediate(root, '/CN=Crash Mesh CA'), root);
  fake = await startFakeCas({ clock: () => now() });
  await fake.addPool(POOL);
  cas = new PrivateCaService({ apiEndpoint: '127.0.0.1', port: fake.port, plaintext: true });
});

afterAll(async () => {
  await cas.close();
  await fake.close();
});

function crashingApp() {
  const app = testApp({ start: new Date(Date.now() + 60_000).toISOString() });
  const plan = new CrashPlan();
  app.deps.store = new CrashingStore(app.store, plan);
  app.deps.clusters = new CrashingClusters(app.clusters, plan);
  return { ...app, plan };
}

/** Runs `work` crashing after write `n`, then again as a restarted process would (once the lease expired); whether it crashed. */
async function crashThenRepeat(app: ReturnType<typeof crashingApp>, n: number, work: () => Promise<unknown>): Promise<boolean> {
  const { plan } = app;
  plan.arm(n);
  try {
    await work();
    // A crash in a cluster write is recorded by the sync that made it, not thrown: the process is dead all the same.
    if (!plan.crashed) return false; // finished before write n: every crash point is covered
  } catch (err) {
    if (!(err instanceof SimulatedCrash)) throw err;
  }
  plan.restart();
  app.clock.advance(app.deps.settings.leaseMs + 1);
  await work();
  return true;
}

describe('a crash after any write', () => {
  it('of importing an issuer: the repeated PUT leaves one working issuer', async () => {
    let n = 1;
    for (; ; n++) {
      const app = crashingApp();
      const crashed = await crashThenRepeat(app, n, () => putIssuerBundle(app.deps, 'corp', bundle));
      const status = await getIssuer(app.deps, 'corp');
      expect(status.root?.subject).toBe('CN=Crash Root');
      expect((await putIssuerBundle(app.deps, 'corp', bundle)).created).toBe(false);
      if (!crashed) break;
    }
    expect(n - 1).toBe(3); // create the secret, add the version, record it
  });

  it('of creating a link under an issuer: the repeated POST leaves Secrets that chain to the root', async () => {
    let n = 1;
    for (; ; n++) {
      const app = crashingApp();
      await putIssuerBundle(app.deps, 'corp', bundle);
      const crashed = await crashThenRepeat(app, n, () => applyLink(app.deps, specInput({ issuer: 'corp' })));
      for (const side of SIDES) {
        const own = clusterCredential(app.clusters, 'mysql', side)!;
        expect(own['ca.crt']).toBe(root.certificate);
        expect(chainsToAny(own['tls.crt'], root.certificate)).toBe(true);
      }
      if (!crashed) break;
    }
    expect(n - 1).toBeGreaterThan(10);
  });

  describe('under a CA Service pool', () => {
    /** A crashing app on the pool's issuer; the fake signs at the app's time. */
    async function poolApp() {
      const app = crashingApp();
      app.deps.cas = cas;
      now = app.clock;
      await putIssuerReference(app.deps, 'pki', { type: 'cas', caPool: POOL });
      return app;
    }

    async function expectOneGenerationAndChainsToPool(app: ReturnType<typeof crashingApp>) {
      const poolRoot = fake.pool(POOL).cas[0]!.root;
      for (const side of SIDES) {
        const own = clusterCredential(app.clusters, 'mysql', side)!;
        expect(own['ca.crt']).toBe(poolRoot);
        expect(chainsToAny(own['tls.crt'], poolRoot)).toBe(true);
      }
      // No second CA generation: one version of the CA secret, the one the state names.
      const state = (await loadLink({ ...app.deps, store: app.store }, 'mysql'))!.state;
      expect(state.cas.map((c) => c.generation)).toEqual([1]);
      expect((await app.memory.listVersions(storeSecretId('meshlink', 'mysql', 'ca'))).map((v) => v.version)).toEqual([state.cas[0]!.version]);
    }

    it('of creating a link: the repeated POST leaves one generation and Secrets that chain to the pool root', async () => {
      let n = 1;
      for (; ; n++) {
        const app = await poolApp();
        const crashed = await crashThenRepeat(app, n, () => applyLink(app.deps, specInput({ issuer: 'pki' })));
        await expectOneGenerationAndChainsToPool(app);
        if (!crashed) break;
      }
      expect(n - 1).toBeGreaterThan(10);
    });

    it('of a forced leaf rotation: the repeated request ends it with new leaves from the pool', async () => {
      let n = 1;
      for (; ; n++) {
        const app = await poolApp();
        await applyLink(app.deps, specInput({ issuer: 'pki' }));
        const before = SIDES.map((side) => clusterCredential(app.clusters, 'mysql', side)!['tls.crt']);
        const crashed = await crashThenRepeat(app, n, () => forceRotation(app.deps, 'mysql', 'leaf'));
        const state = (await loadLink({ ...app.deps, store: app.store }, 'mysql'))!.state;
        expect(state.forced).toBeUndefined();
        expect(SIDES.map((side) => clusterCredential(app.clusters, 'mysql', side)!['tls.crt'])).not.toContain(before[0]);
        expect(SIDES.map((side) => clusterCredential(app.clusters, 'mysql', side)!['tls.crt'])).not.toContain(before[1]);
        await expectOneGenerationAndChainsToPool(app);
        if (!crashed) break;
      }
      expect(n - 1).toBeGreaterThan(3);
    });
  });
});
