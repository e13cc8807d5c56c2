// Issuer changes under continuous traffic (invariant 1 with a real TLS stack): clients open new
// connections through the loopback data plane while the sweep rolls a link over three times:
// its issuer's bundle replaced under a new root (PUT /issuers), the link taken off its issuer
// (bundle -> none), then put under another (none -> bundle). Zero failed handshakes; connections
// opened before keep working. Time as in traffic.test.ts: the manual clock stays within a few
// minutes of real time, which the TLS stack checks validity against.
import { afterEach, describe, expect, it } from 'vitest';
import { putIssuerBundle } from '../../shared/app/issuers.js';
import { applyLink } from '../../shared/app/provision.js';
import { InProcessRotationQueue } from '../../shared/queue/in-process-rotation-queue.js';
import type { RotationOutcome } from '../../shared/app/rotate.js';
import { sweep } from '../../shared/app/sweep.js';
import { loadLink } from '../../shared/app/link-record.js';
import { credentialName } from '../../shared/link/names.js';
import type { LinkState } from '../../shared/link/state.js';
import { certificateFacts } from '../../shared/pki/issuer-bundle.js';
import { testApp } from '../support/app.js';
import { specInput } from '../support/builders.js';
import { openConnection, runTraffic, secretFromCluster, startDataPlane, until, type Connection, type DataPlane } from '../support/dataplane.js';
import { opensslIntermediate, opensslRoot, pemBundle } from '../support/openssl-ca.js';

const NAMESPACE = 'istio-system';
const STEP_MS = 5_000;
// CAs long enough that only the issuer changes roll them over in the window (a chain made
// seconds ago starts later than a link CA's usual back-dating: see mint.ts).
const CERTIFICATES = { leafTtl: '1m', caTtl: '20m', renewBefore: '50%' };

const planes: DataPlane[] = [];
afterEach(async () => {
  await Promise.all(planes.splice(0).map((p) => p.close()));
});

describe('issuer changes under continuous traffic', () => {
  it('rolls a link over to a new root, off its issuer and onto another with zero failed handshakes', async () => {
    const rootA = opensslRoot('/CN=Traffic Root A');
    const rootB = opensslRoot('/CN=Traffic Root B');
    const [bundleA, bundleB] = [pemBundle(opensslIntermediate(rootA, '/CN=Traffic CA A'), rootA), pemBundle(opensslIntermediate(rootB, '/CN=Traffic CA B'), rootB)];
    // A second after the openssl certificates begin (they start the second they are made).
    const app = testApp({ start: new Date(Date.now() + 1_000).toISOString(), settings: { rolloverGraceMs: 10_000, versionGraceMs: 30_000, versionRetentionMs: 60_000, leaseMs: 30_000 } });
    await putIssuerBundle(app.deps, 'a', bundleA);
    await putIssuerBundle(app.deps, 'b', bundleA);
    await applyLink(app.deps, specInput({ issuer: 'a', certificates: CERTIFICATES }));
    const plane = await startDataPlane({
      host: 'mysql.link.example.com',
      link: 'mysql',
      clientSecret: secretFromCluster(app.clusters.target('client-cluster'), NAMESPACE, credentialName('mysql', 'client')),
      serverSecret: secretFromCluster(app.clusters.target('server-cluster'), NAMESPACE, credentialName('mysql', 'server')),
    });
    planes.push(plane);
    const longLived: Connection[] = [];
    for (let i = 0; i < 2; i++) {
      const conn = await openConnection(plane.egressPort);
      expect((await conn.exchange(Buffer.from('before'))).toString()).toBe('before');
      longLived.push(conn);
    }
    const traffic = runTraffic(plane, { everyMs: 2, payloadBytes: 64 });
    const queue = new InProcessRotationQueue(app.deps);
    const outcomes: RotationOutcome[] = [];
    const state = async () => (await loadLink(app.deps, 'mysql'))!.state;
    /** Sweeps every STEP_MS of manual time until the link is stable on one CA anchored as given. */
    const rollTo = async (anchors: string[] | undefined) => {
      const settled = (s: LinkState) => s.phase === 'stable' && s.cas.length === 1 && JSON.stringify(s.cas[0]!.anchors) === JSON.stringify(anchors);
      for (let i = 0; i < 24; i++) {
        app.clock.advance(STEP_MS);
        outcomes.push(...(await sweep(app.deps, queue)).rotated);
        const seen = traffic.progress().ok;
        await until(() => traffic.progress().ok >= seen + 3, 'traffic after a sweep');
        if (settled(await state())) return;
      }
      throw new Error(`the link did not roll over to ${anchors ?? 'its own CA'}`);
    };
    const fingerprint = (pem: string) => certificateFacts(pem).fingerprint;

    await putIssuerBundle(app.deps, 'a', bundleB);
    await rollTo([fingerprint(rootB.certificate)]);
    await applyLink(app.deps, specInput({ certificates: CERTIFICATES }));
    await rollTo(undefined);
    await applyLink(app.deps, specInput({ issuer: 'b', certificates: CERTIFICATES }));
    await rollTo([fingerprint(rootA.certificate)]);

    const report = await traffic.stop();
    expect(outcomes.filter((o) => o.error)).toEqual([]);
    const changed = outcomes.filter((o) => /^IssuerChanged/.test(o.reason ?? ''));
    expect(changed).toHaveLength(3);
    expect(report.failures).toEqual([]);
    expect(report.planeFailures).toEqual([]);
    expect(report.failed).toBe(0);
    expect(report.ok).toBeGreaterThan(50);
    expect(plane.stats.handshakeFailures).toBe(0);
    for (const conn of longLived) {
      expect((await conn.exchange(Buffer.from('after'))).toString()).toBe('after');
      await conn.close();
    }
  });
});
