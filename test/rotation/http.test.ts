// The rotation routes of the HTTP API: POST /links/{name}:rotate (forced rotation, validation,
// idempotent retries) and POST /rotations:sweep (a sweep now, with what it found and did).
import { describe, expect, it } from 'vitest';
import { handleApiRequest, type ApiRequest } from '../../functions/http-api.js';
import { makeRotationRoutes, oneQueuePerApp } from '../../functions/rotation.js';
import type { AppDeps } from '../../shared/app/deps.js';
import { loadLink } from '../../shared/app/link-record.js';
import { InProcessRotationQueue } from '../../shared/queue/in-process-rotation-queue.js';
import { type DueLink, type RotationQueue } from '../../shared/queue/port.js';
import { rotationApp, type RotationApp } from '../support/rotation-app.js';

const DAY = 86_400_000;
const routes = makeRotationRoutes(oneQueuePerApp(async (deps) => new InProcessRotationQueue(deps)));

function post(path: string, body?: unknown, contentType = 'application/json'): ApiRequest {
  return { method: 'POST', path, contentType, body: Buffer.from(body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body)) };
}

async function call(app: RotationApp, req: ApiRequest, with_ = routes) {
  const res = await handleApiRequest(app.deps, req, with_);
  return { status: res.status, body: res.body as Record<string, any> };
}

async function linked() {
  const app = rotationApp({ settings: { forcedRolloverGraceMs: 60_000 } });
  await app.create();
  app.clock.advance(DAY);
  return app;
}

describe('POST /links/{name}:rotate', () => {
  it('scope leaf: re-issues both leaves now and answers 200 with the new status', async () => {
    const app = await linked();
    const before = await app.state();
    const res = await call(app, post('/links/mysql:rotate', { scope: 'leaf' }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ scope: 'leaf', duplicate: false, continued: false, completed: true, outcome: 'rotated' });
    expect(res.body.steps).toEqual(['issue-leaf(server)', 'issue-leaf(client)', 'sync(server)', 'sync(client)', 'complete-force']);
    expect(res.body.status.server.fingerprint).not.toBe(before.leaves.server!.fingerprint);
    expect(res.body.status.client.fingerprint).not.toBe(before.leaves.client!.fingerprint);
    expect(JSON.stringify(res.body)).not.toMatch(/PRIVATE KEY/);
  });

  it('scope ca: starts a rollover with the forced grace and answers 202; later sweeps finish it', async () => {
    const app = await linked();
    const res = await call(app, post('/links/mysql:rotate', { scope: 'ca' }));
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ completed: false, next: { reason: 'rollover-grace(trust-added)', at: new Date(app.clock().getTime() + 60_000).toISOString() } });
    expect(res.body.status.rotation).toMatchObject({ phase: 'trust-added', forced: { ca: { generation: 2 } } });
    await app.drive((s) => s.phase === 'stable' && !s.forced);
    const state = await app.state();
    expect(state.cas.map((c) => c.generation)).toEqual([2]);
    expect(app.violations).toEqual([]);
  });

  it('a retried request with the same requestId has one effect', async () => {
    const app = await linked();
    const first = await call(app, post('/links/mysql:rotate', { scope: 'leaf', requestId: 'incident-42' }));
    const again = await call(app, post('/links/mysql:rotate', { scope: 'leaf', requestId: 'incident-42' }));
    expect(first.body.duplicate).toBe(false);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ duplicate: true, completed: true, steps: [] });
    expect(again.body.status.server.fingerprint).toBe(first.body.status.server.fingerprint);
    expect((await app.versions('server')).length).toBe(2);
  });

  it('a CA force during a rollover continues it: no third CA', async () => {
    const app = await linked();
    await call(app, post('/links/mysql:rotate', { scope: 'ca', requestId: 'r1' }));
    const second = await call(app, post('/links/mysql:rotate', { scope: 'ca', requestId: 'r2' }));
    expect(second.body).toMatchObject({ duplicate: false, continued: true });
    await app.drive((s) => s.phase === 'stable' && !s.forced);
    expect((await app.versions('ca')).length).toBe(2);
  });

  it('answers 409 while another worker holds the link', async () => {
    const app = await linked();
    const record = (await loadLink(app.deps, 'mysql'))!;
    record.state = { ...record.state, lease: { holder: 'other', until: new Date(app.clock().getTime() + 60_000).toISOString() } };
    await record.save();
    const res = await call(app, post('/links/mysql:rotate', { scope: 'leaf' }));
    expect(res.status).toBe(409);
    expect(res.body.error).toMatch(/try again/);
  });

  it.each([
    ['no body', post('/links/mysql:rotate'), [{ path: 'scope', message: 'is required' }]],
    ['no scope', post('/links/mysql:rotate', { requestId: 'x' }), [{ path: 'scope', message: 'is required' }]],
    ['an unknown scope', post('/links/mysql:rotate', { scope: 'everything' }), [{ path: 'scope', message: expect.stringMatching(/leaf .* or ca/) }]],
    ['an unknown field', post('/links/mysql:rotate', { scope: 'leaf', force: true }), [{ path: 'force', message: 'unknown field: force' }]],
    ['a bad requestId', post('/links/mysql:rotate', { scope: 'leaf', requestId: 'a b' }), [{ path: 'requestId', message: expect.stringMatching(/letters/) }]],
  ])('answers %s with 400 naming the field, and rotates nothing', async (_name, req, details) => {
    const app = await linked();
    const before = app.plan.writes;
    const res = await call(app, req);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid rotation request', details });
    expect(app.plan.writes).toBe(before);
  });

  it('answers 400 for malformed JSON and 404 for an unknown link', async () => {
    const app = await linked();
    expect((await call(app, post('/links/mysql:rotate', '{"scope":'))).status).toBe(400);
    const missing = await call(app, post('/links/nope:rotate', { scope: 'leaf' }));
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/nope not found/);
  });

  it.each([
    ['foo', ''],
    ['*/*', ''],
    ['foo', '{"scope":"leaf"}'],
    ['text/plain', 'scope=leaf'],
  ])('answers a Content-Type it cannot read (%s, body %j) with 415, as POST /links does, and rotates nothing', async (type, body) => {
    const app = await linked();
    const before = app.plan.writes;
    const res = await call(app, post('/links/mysql:rotate', body, type));
    expect(res.status).toBe(415);
    expect(res.body.error).toMatch(/not supported: send application\/json or application\/yaml/);
    expect(app.plan.writes).toBe(before);
  });

  it('answers 405 for another method', async () => {
    const app = await linked();
    expect((await call(app, { method: 'GET', path: '/links/mysql:rotate', body: Buffer.alloc(0) })).status).toBe(405);
  });
});

describe('POST /rotations:sweep', () => {
  it('answers what it listed, what was due and why, and what it rotated', async () => {
    const app = await linked();
    const idle = await call(app, post('/rotations:sweep'));
    expect(idle.status).toBe(200);
    expect(idle.body).toMatchObject({ listed: 1, pages: 1, due: [], rotated: [], errors: [] });

    app.clock.advance(19 * DAY);
    const res = await call(app, post('/rotations:sweep'));
    expect(res.body.due).toEqual([{ link: 'mysql', reason: expect.stringMatching(/^NearingExpiry/), dedupKey: expect.any(String) }]);
    expect(res.body.rotated).toEqual([expect.objectContaining({ link: 'mysql', outcome: 'rotated', steps: ['issue-leaf(server)', 'issue-leaf(client)', 'sync(server)', 'sync(client)'] })]);
    expect(res.body.errors).toEqual([]);
  });

  it('with a queue that passes the due links on (Pub/Sub), answers what was due and rotates nothing in the request', async () => {
    const app = await linked();
    app.clock.advance(19 * DAY);
    const published: DueLink[] = [];
    const handOff: RotationQueue = { enqueue: async (links) => void published.push(...links) };
    const res = await call(app, post('/rotations:sweep'), makeRotationRoutes(async () => handOff));
    expect(res.body.due).toEqual([expect.objectContaining({ link: 'mysql', reason: expect.stringMatching(/^NearingExpiry/) })]);
    expect(published.map((d) => d.link)).toEqual(['mysql']);
    expect(res.body.rotated).toEqual([]);
    expect((await app.versions('server')).length).toBe(1);
  });

  it('uses one queue per app across requests (no client left open per request); a failed creation is tried again', async () => {
    const app = await linked();
    const made: AppDeps[] = [];
    let fail = true;
    const perApp = makeRotationRoutes(
      oneQueuePerApp(async (deps) => {
        made.push(deps);
        if (fail) throw new Error('topic not reachable');
        return new InProcessRotationQueue(deps);
      }),
    );
    expect((await call(app, post('/rotations:sweep'), perApp)).status).toBe(500);
    fail = false;
    for (const _ of [1, 2, 3]) expect((await call(app, post('/rotations:sweep'), perApp)).status).toBe(200);
    expect(made).toEqual([app.deps, app.deps]);
  });
});
