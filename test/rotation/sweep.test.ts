// The sweep (metadata only, page by page, due links fanned out), two sweeps racing, a worker
// message delivered several times, and the in-process queue's bound.
import { describe, expect, it, vi } from 'vitest';
import { makeSpecUnreadable } from '../support/unreadable-spec.js';
import type { AppDeps } from '../../shared/app/deps.js';
import { loadLink } from '../../shared/app/link-record.js';
import { forceRotation } from '../../shared/app/rotate.js';
import { InProcessRotationQueue, mapBounded } from '../../shared/queue/in-process-rotation-queue.js';
import { type DueLink, type RotationQueue } from '../../shared/queue/port.js';
import { sweep } from '../../shared/app/sweep.js';
import { handleRotateLinkEvent, startSweepTimer } from '../../functions/rotation.js';
import { withField } from '../support/builders.js';
import { rotationApp, type RotationApp } from '../support/rotation-app.js';
import { specInput } from '../support/builders.js';
import { applyLink } from '../../shared/app/provision.js';

const DAY = 86_400_000;
const NAMES = ['a', 'b', 'c', 'd', 'e'];

async function fiveLinks(app: RotationApp) {
  for (const [i, name] of NAMES.entries()) await applyLink(app.deps, withField(specInput({}, name), 'server.gatewayPort', 20000 + i));
}

class RecordingQueue implements RotationQueue {
  readonly batches: DueLink[][] = [];
  async enqueue(links: DueLink[]): Promise<void> {
    this.batches.push(links);
  }
}

const leafVersions = async (app: RotationApp, name: string) => (await app.versions('server', name)).length + (await app.versions('client', name)).length;

describe('the sweep', () => {
  it('lists metadata only: no payload read and no write when nothing is due', async () => {
    const app = rotationApp();
    await fiveLinks(app);
    app.clock.advance(DAY);
    app.store.reset();
    const queue = new RecordingQueue();
    const report = await sweep(app.deps, queue);
    expect(report).toMatchObject({ listed: 5, pages: 1, due: [], errors: [] });
    expect(app.store.calls).toMatchObject({ listSecrets: 1, getSecret: 0, accessVersion: 0, listVersions: 0 });
    expect(app.store.writes).toBe(0);
    expect(queue.batches).toEqual([]);
  });

  it('pages with the configured page size and hands each page’s due links over as it goes', async () => {
    const app = rotationApp({ settings: { sweepPageSize: 2 } });
    await fiveLinks(app);
    app.clock.advance(20 * DAY);
    app.store.reset();
    const queue = new RecordingQueue();
    const report = await sweep(app.deps, queue);
    expect(report.pages).toBe(3);
    expect(app.store.calls.listSecrets).toBe(3);
    expect(app.store.payloadReads).toBe(0);
    expect(queue.batches.map((b) => b.length)).toEqual([2, 2, 1]);
    expect(report.due.map((d) => d.link).sort()).toEqual(NAMES);
    expect(report.due[0]).toMatchObject({ reason: expect.stringMatching(/^NearingExpiry/), dedupKey: expect.stringMatching(/@/) });
  });

  it('rotates each due link once through the in-process queue; the next sweep finds nothing', async () => {
    const app = rotationApp();
    await fiveLinks(app);
    app.clock.advance(20 * DAY);
    const { rotated: outcomes } = await sweep(app.deps, new InProcessRotationQueue(app.deps));
    expect(outcomes.map((o) => [o.link, o.outcome]).sort()).toEqual(NAMES.map((n) => [n, 'rotated']));
    for (const name of NAMES) expect(await leafVersions(app, name)).toBe(4);
    expect((await sweep(app.deps, new RecordingQueue())).due).toEqual([]);
  });

  it('skips a link another worker holds, and reports it', async () => {
    const app = rotationApp();
    await app.create();
    app.clock.advance(20 * DAY);
    const record = (await loadLink(app.deps, 'mysql'))!;
    record.state = { ...record.state, lease: { holder: 'other', until: new Date(app.clock().getTime() + 60_000).toISOString() } };
    await record.save();
    const report = await sweep(app.deps, new RecordingQueue());
    expect(report.due).toEqual([]);
    expect(report.skipped).toEqual([{ link: 'mysql', reason: expect.stringMatching(/held by another worker/) }]);
  });
});

describe('two sweeps racing over the same links', () => {
  it('rotate each link once', async () => {
    const app = rotationApp();
    await fiveLinks(app);
    app.clock.advance(20 * DAY);
    const other: AppDeps = { ...app.deps, workerId: 'second-worker' };
    const reports = await Promise.all([sweep(app.deps, new InProcessRotationQueue(app.deps)), sweep(other, new InProcessRotationQueue(other))]);
    const outcomes = reports.flatMap((r) => r.rotated);
    for (const name of NAMES) {
      expect(outcomes.filter((o) => o.link === name && o.outcome === 'rotated'), name).toHaveLength(1);
      expect(await leafVersions(app, name)).toBe(4);
      expect((await app.versions('ca', name)).length).toBe(1);
    }
    expect(outcomes.some((o) => o.outcome === 'busy' || o.outcome === 'not-due')).toBe(true);
  });
});

describe('a worker message delivered three times', () => {
  const message = (link: string) => ({
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    data: { message: { data: Buffer.from(JSON.stringify({ link, reason: 'NearingExpiry' })).toString('base64'), messageId: 'm-1' } },
  });

  it('rotates once when redelivered after it was handled', async () => {
    const app = rotationApp();
    await app.create();
    app.clock.advance(20 * DAY);
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await handleRotateLinkEvent(app.deps, message('mysql')));
    expect(outcomes.map((o) => ('outcome' in o ? o.outcome : o.ignore))).toEqual(['rotated', 'not-due', 'not-due']);
    expect(await leafVersions(app, 'mysql')).toBe(4);
  });

  it('rotates once when the deliveries overlap', async () => {
    const app = rotationApp();
    await app.create();
    app.clock.advance(20 * DAY);
    const outcomes = await Promise.all([1, 2, 3].map((i) => handleRotateLinkEvent({ ...app.deps, workerId: `worker-${i}` }, message('mysql'))));
    expect(outcomes.filter((o) => 'outcome' in o && o.outcome === 'rotated')).toHaveLength(1);
    expect(await leafVersions(app, 'mysql')).toBe(4);
  });
});

describe('the in-process queue', () => {
  it('runs at most `concurrency` rotations at once, every one of them', async () => {
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    await mapBounded(
      Array.from({ length: 10 }, (_, i) => i),
      3,
      async (i) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
        done.push(i);
      },
    );
    expect(peak).toBe(3);
    expect(done.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('reports a failed link and still rotates the others', async () => {
    const app = rotationApp();
    await fiveLinks(app);
    app.clock.advance(20 * DAY);
    await makeSpecUnreadable(app.store, (await loadLink(app.deps, 'c'))!.secretId);
    const { rotated: outcomes } = await sweep(app.deps, new InProcessRotationQueue(app.deps));
    expect(outcomes.find((o) => o.link === 'c')).toMatchObject({ outcome: 'failed', error: expect.any(String) });
    expect(outcomes.filter((o) => o.outcome === 'rotated')).toHaveLength(4);
  });
});

describe('the local sweep timer', () => {
  it('sweeps every interval, never two at once, and stops', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const app = rotationApp();
      await app.create();
      app.clock.advance(20 * DAY);
      let release: () => void = () => {};
      const calls: DueLink[][] = [];
      const queue: RotationQueue = {
        enqueue: (links) => {
          calls.push(links);
          return new Promise<void>((resolve) => (release = resolve));
        },
      };
      const sweeps = () => app.log.lines.filter((l) => l.message === 'sweep done').length;
      const stop = startSweepTimer(app.deps, queue, 60_000);
      vi.advanceTimersByTime(60_000);
      await vi.waitFor(() => expect(calls).toHaveLength(1));
      vi.advanceTimersByTime(60_000); // the first sweep is still handing over: this tick is skipped
      release();
      await vi.waitFor(() => expect(sweeps()).toBe(1));
      vi.advanceTimersByTime(60_000);
      await vi.waitFor(() => expect(calls).toHaveLength(2));
      release();
      await vi.waitFor(() => expect(sweeps()).toBe(2));
      stop();
      vi.advanceTimersByTime(120_000);
      expect(calls).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('a forced CA rollover waiting for its grace period', () => {
  it('is not handed to a worker again until the grace ends', async () => {
    const app = rotationApp({ settings: { forcedRolloverGraceMs: 60_000 } });
    await app.create();
    await forceRotation(app.deps, 'mysql', 'ca');
    app.clock.advance(30_000);
    expect((await sweep(app.deps, new RecordingQueue())).due).toEqual([]);
    app.clock.advance(30_000);
    expect((await sweep(app.deps, new RecordingQueue())).due).toEqual([{ link: 'mysql', reason: expect.stringMatching(/grace|trusted CA generation 2/), dedupKey: expect.any(String) }]);
  });
});
