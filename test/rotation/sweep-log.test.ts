// What the sweep logs for the expiry alerts: one line per listed link with its days to expiry
// (from the listed metadata alone) and one summary line per sweep, each with its stable event.
import { describe, expect, it } from 'vitest';
import { InProcessRotationQueue } from '../../shared/queue/in-process-rotation-queue.js';
import { type DueLink, type RotationQueue } from '../../shared/queue/port.js';
import { sweep } from '../../shared/app/sweep.js';
import { LOG_EVENTS } from '../../shared/log-events.js';
import { rotationApp } from '../support/rotation-app.js';

const DAY = 86_400_000;

/** Takes the due links and does nothing: a fan-out whose workers never run. */
const idleQueue: RotationQueue = { enqueue: async (_links: DueLink[]) => {} };

describe('the sweep log', () => {
  it('writes one expiry line per link, from the listing alone, and a summary line', async () => {
    const app = rotationApp();
    await app.create({}, 'fresh');
    await app.create({ server: { cluster: 'server-cluster', service: 'mysql.default.svc.cluster.local', port: 3307 }, certificates: { leafTtl: '10d', caTtl: '60d' } }, 'short');
    app.clock.advance(8 * DAY);
    app.log.lines.length = 0;
    app.store.reset();
    await sweep(app.deps, idleQueue);
    expect(app.store.calls).toMatchObject({ listSecrets: 1, getSecret: 0, accessVersion: 0, listVersions: 0 });

    const expiry = app.log.lines.filter((l) => l.event === LOG_EVENTS.linkExpiry);
    expect(expiry.map((l) => l.link).sort()).toEqual(['fresh', 'short']);
    const byLink = Object.fromEntries(expiry.map((l) => [l.link, l]));
    // 10d leaves issued 8 days ago: 2 days left (back-dating aside), renewal time passed, CA far.
    expect(byLink.short).toMatchObject({ severity: 'INFO', renewalDue: true, caDaysToExpiry: 52 });
    expect(byLink.short!.daysToExpiry).toBeCloseTo(2, 1);
    expect(byLink.fresh).toMatchObject({ renewalDue: false, caDaysToExpiry: 357 });
    expect(byLink.fresh!.daysToExpiry).toBeCloseTo(22, 1);
    for (const l of expiry) expect(l).toEqual(expect.objectContaining({ leafNotAfter: expect.any(String), caNotAfter: expect.any(String), nextRenewal: expect.any(String) }));

    const summary = app.log.lines.filter((l) => l.event === LOG_EVENTS.sweepDone);
    expect(summary).toEqual([expect.objectContaining({ message: 'sweep done', listed: 2, due: 1, errors: 0, minDaysToExpiry: byLink.short!.daysToExpiry })]);
  });

  it('shows a renewed link far from expiry again on the next sweep', async () => {
    const app = rotationApp();
    await app.create({ certificates: { leafTtl: '10d', caTtl: '60d' } });
    app.clock.advance(8 * DAY);
    await sweep(app.deps, new InProcessRotationQueue(app.deps));
    app.log.lines.length = 0;
    await sweep(app.deps, idleQueue);
    const [line] = app.log.lines.filter((l) => l.event === LOG_EVENTS.linkExpiry);
    expect(line).toMatchObject({ link: 'mysql', renewalDue: false });
    expect(line!.daysToExpiry).toBeCloseTo(10, 1);
  });
});
