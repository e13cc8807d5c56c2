// Invariant 5 for issuers: a crash after any single write of importing an issuer, or of creating
// a link under one, leaves a state that repeating the request completes: one working issuer, and
// a link whose Secrets chain to the root.
import { beforeAll, describe, expect, it } from 'vitest';
import { getIssuer, putIssuerBundle } from '../../shared/app/issuers.js';
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

beforeAll(() => {
  root = opensslRoot('/CN=Crash Root');
  bundle = pemBundle(opensslIntermediate(root, '/CN=Crash Mesh CA'), root);
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
    return false; // finished before write n: every crash point is covered
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
});
