// Continuity under traffic (invariant 1 with a real TLS stack): clients open new connections
// continuously through the loopback data plane while the sweep rotates leaves and rolls CAs
// over; the proxies read the cluster Secrets on every handshake, as SDS does. Zero failed
// handshakes, and connections opened before the rotations keep working.
//
// Time: the rotation runs on a manual clock, but the TLS stack checks validity against the
// system clock. A certificate minted at manual time T is valid from T-5m (back-dating) to T+ttl,
// so the manual clock stays between a little before real time and a few minutes after it
// (WINDOW_MS); the lifetimes are sized for at least 20 leaf rotations and 3 CA rollovers inside.
import { afterEach, describe, expect, it } from 'vitest';
import { sweep } from '../../shared/app/sweep.js';
import { InProcessRotationQueue } from '../../shared/queue/in-process-rotation-queue.js';
import type { RotationOutcome } from '../../shared/app/rotate.js';
import { applyLink } from '../../shared/app/provision.js';
import { credentialName } from '../../shared/link/names.js';
import { specInput, withField } from '../support/builders.js';
import { testApp } from '../support/app.js';
import { openConnection, runTraffic, secretFromCluster, startDataPlane, until, type Connection, type DataPlane, type Traffic } from '../support/dataplane.js';

const NAMESPACE = 'istio-system';
const STEP_MS = 5_000;
const WINDOW_MS = 4.5 * 60_000;
const CERTIFICATES = { leafTtl: '1m', caTtl: '2m', renewBefore: '50%' };

const planes: DataPlane[] = [];
afterEach(async () => {
  await Promise.all(planes.splice(0).map((p) => p.close()));
});

describe('rotation under continuous traffic', () => {
  it('rotates leaves and rolls CAs over with zero failed handshakes; old connections keep working', async () => {
    const start = new Date(Date.now() - 20_000);
    const app = testApp({
      start: start.toISOString(),
      settings: { rolloverGraceMs: 10_000, versionGraceMs: 30_000, versionRetentionMs: 60_000, leaseMs: 30_000 },
    });
    const links = ['mysql', 'pg'];
    await applyLink(app.deps, specInput({ certificates: CERTIFICATES }));
    await applyLink(app.deps, withField(specInput({ certificates: CERTIFICATES }, 'pg'), 'server.gatewayPort', 15432));

    const traffic: Traffic[] = [];
    const longLived: Connection[] = [];
    for (const link of links) {
      const plane = await startDataPlane({
        host: `${link}.link.example.com`,
        link,
        clientSecret: secretFromCluster(app.clusters.target('client-cluster'), NAMESPACE, credentialName(link, 'client')),
        serverSecret: secretFromCluster(app.clusters.target('server-cluster'), NAMESPACE, credentialName(link, 'server')),
      });
      planes.push(plane);
      for (let i = 0; i < 2; i++) {
        const conn = await openConnection(plane.egressPort);
        expect((await conn.exchange(Buffer.from('before'))).toString()).toBe('before');
        longLived.push(conn);
      }
      traffic.push(runTraffic(plane, { everyMs: 2, payloadBytes: 64 }));
    }

    const outcomes: RotationOutcome[] = [];
    const queue = new InProcessRotationQueue(app.deps);
    while (app.clock().getTime() < start.getTime() + WINDOW_MS) {
      app.clock.advance(STEP_MS);
      outcomes.push(...(await sweep(app.deps, queue)).rotated);
      // New handshakes against every state the sweep left (and, interleaved, the ones within it).
      const seen = traffic.map((t) => t.progress().ok);
      await until(() => traffic.every((t, i) => t.progress().ok >= seen[i]! + 3), 'traffic after a sweep');
    }

    const reports = await Promise.all(traffic.map((t) => t.stop()));
    const steps = outcomes.flatMap((o) => o.steps.map((s) => `${o.link}:${s}`));
    const count = (re: RegExp) => steps.filter((s) => re.test(s)).length;
    expect(outcomes.filter((o) => o.error)).toEqual([]);
    expect(count(/:issue-leaf/)).toBeGreaterThanOrEqual(20);
    for (const link of links) expect(count(new RegExp(`^${link}:finish-rollover`))).toBeGreaterThanOrEqual(3);

    for (const [i, report] of reports.entries()) {
      expect(report.failures).toEqual([]);
      expect(report.planeFailures).toEqual([]);
      expect(report.failed).toBe(0);
      expect(report.ok).toBeGreaterThan(100);
      expect(planes[i]!.stats.handshakeFailures).toBe(0);
      // Each plane saw many certificates: the rotations reached the handshakes.
      expect(planes[i]!.stats.clientCertificates.size).toBeGreaterThanOrEqual(10);
      expect(planes[i]!.stats.serverCertificates.size).toBeGreaterThanOrEqual(10);
    }
    for (const conn of longLived) {
      expect((await conn.exchange(Buffer.from('after'))).toString()).toBe('after');
      await conn.close();
    }
  });
});
