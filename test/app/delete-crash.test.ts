// Invariant 5 for delete: a crash after any single write of DELETE leaves a state that finishes:
// repeating the DELETE (clusters answering), or the sweep (a cluster that did not answer, the
// tombstone), leaves nothing of the link in the store or in any cluster.
import { describe, expect, it } from 'vitest';
import { deleteLink } from '../../shared/app/delete.js';
import { applyLink } from '../../shared/app/provision.js';
import { getLink } from '../../shared/app/queries.js';
import { InProcessRotationQueue } from '../../shared/queue/in-process-rotation-queue.js';
import { sweep } from '../../shared/app/sweep.js';
import { isMeshlinkError } from '../../shared/errors.js';
import { testApp } from '../support/app.js';
import { specInput } from '../support/builders.js';
import { leftOf } from '../support/leftovers.js';
import { CrashingClusters, CrashingStore, CrashPlan, SimulatedCrash } from '../support/crash.js';
import { unavailable } from '../support/memory-clusters.js';

async function crashingLink() {
  const app = testApp();
  await applyLink(app.deps, specInput());
  const plan = new CrashPlan();
  app.deps.store = new CrashingStore(app.store, plan);
  app.deps.clusters = new CrashingClusters(app.clusters, plan);
  return { ...app, plan };
}
type App = Awaited<ReturnType<typeof crashingLink>>;

/** DELETE crashing after write `n`; whether it crashed (false: it finished before write n). */
async function deleteCrashingAt(app: App, n: number): Promise<boolean> {
  app.plan.arm(n);
  try {
    await deleteLink(app.deps, 'mysql');
    // A crash in the lease's release (its last write) is not the request's failure: the lease runs out.
    if (!app.plan.crashed) {
      app.plan.restart(); // disarmed: what follows is not part of this DELETE
      return false;
    }
  } catch (err) {
    if (!(err instanceof SimulatedCrash)) throw err;
  }
  app.plan.restart();
  app.clock.advance(app.deps.settings.leaseMs + 1); // the crashed process's lease runs out
  return true;
}

/** A DELETE that finds nothing is done (the crash came after the record went). */
async function deleteAgain(app: App): Promise<void> {
  await deleteLink(app.deps, 'mysql').catch((err: unknown) => {
    if (!isMeshlinkError(err, 'not-found')) throw err;
  });
}

describe('a crash after any write of DELETE', () => {
  it('with the clusters answering: the repeated DELETE leaves nothing of the link', async () => {
    let n = 1;
    for (; ; n++) {
      const app = await crashingLink();
      const crashed = await deleteCrashingAt(app, n);
      if (crashed) await deleteAgain(app);
      expect(await leftOf(app), `crash after write ${n}`).toEqual([]);
      expect(await getLink(app.deps, 'mysql').catch((err: unknown) => err)).toMatchObject({ code: 'not-found' });
      if (!crashed) break;
    }
    expect(n).toBeGreaterThan(5); // objects and ports of two clusters, credentials, claims, record
  });

  it('with a cluster not answering: the sweep finishes the link once the cluster answers, and reads never show it again once deleted', async () => {
    let n = 1;
    for (; ; n++) {
      const app = await crashingLink();
      app.clusters.target('client-cluster').failure = unavailable('client-cluster');
      const crashed = await deleteCrashingAt(app, n);
      if (crashed) await deleteAgain(app); // the client retries: 202 again, nothing given up
      expect(await getLink(app.deps, 'mysql').catch((err: unknown) => err), `crash after write ${n}`).toMatchObject({ code: 'not-found' });

      app.clusters.target('client-cluster').failure = undefined;
      app.clock.advance(app.deps.settings.syncRetryMs);
      await sweep(app.deps, new InProcessRotationQueue(app.deps));
      expect(await leftOf(app), `crash after write ${n}`).toEqual([]);
      if (!crashed) break;
    }
    expect(n).toBeGreaterThan(3);
  });
});
