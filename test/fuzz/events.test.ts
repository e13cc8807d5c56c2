// Fuzz: CloudEvents and Pub/Sub push bodies to the registration and rotation functions (served by
// functions-framework as in production) and to the local replay route POST
// /events/cluster-registration, under any framing. A CloudEvent function acknowledges (2xx) or
// refuses with a JSON 4xx, never a 5xx (a 5xx makes Pub/Sub redeliver for ever); nothing changes.
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect } from 'vitest';
import { MAX_BODY_BYTES } from '../../functions/http-api.js';
import { brokenFraming, framing, type Framing } from './arbitraries/bodies.js';
import { eventRequest, notAnEventToTheFramework, structuredNonObject, type EventRequest } from './arbitraries/events.js';
import { defectProperty, isOpen } from './defects.js';
import { expectNoKeyMaterial, expectRefused, expectWellFormed, itKeepsTheSeedsRotating } from './expect.js';
import { changedPaths, fuzzProperty, send, useWorld, type World } from './harness.js';

type Target = 'registration' | 'rotateLink' | 'sweep' | 'local';
const target = fc.constantFrom<Target>('registration', 'rotateLink', 'sweep', 'local');

function deliver(world: World, to: Target, req: EventRequest, framing?: Framing) {
  const base = to === 'local' ? world.urls.api : world.urls[to];
  const path = to === 'local' ? '/events/cluster-registration' : req.path;
  return send(base, { method: req.method, path, headers: req.headers, body: req.body, ...(framing ? { framing } : {}) });
}

describe('fuzz: CloudEvents and push bodies', () => {
  const world = useWorld();

  fuzzProperty(
    'any event to any event function: acknowledged (2xx) or a JSON 4xx, never a 5xx, nothing changed',
    () =>
      fc.asyncProperty(target, eventRequest, framing, async (to, req, frame) => {
        fc.pre(!isOpen(5, to !== 'local' && notAnEventToTheFramework(req)));
        fc.pre(!isOpen(7, to === 'local' && structuredNonObject(req)));
        const before = await world.snapshot();
        const res = await deliver(world, to, req, frame);
        expectWellFormed(res, { bareParserError: brokenFraming(frame) });
        expectNoKeyMaterial(world, res);
        expect(changedPaths(before, await world.snapshot())).toEqual([]);
        if (to === 'local' && res.status === 200) expect(['ignored', 'handled']).toContain(res.json.outcome);
      }),
  );

  itKeepsTheSeedsRotating(world);
});

describe('fuzz: events, the open defects', () => {
  defectProperty(
    5,
    'what is no CloudEvent (a GET, an empty body, text/plain) is a JSON 4xx from the event functions, not a 500',
    (world) => {
      return fc.asyncProperty(fc.constantFrom<Target>('registration', 'rotateLink', 'sweep'), eventRequest.filter(notAnEventToTheFramework), async (to, req) => {
        const before = await world.snapshot();
        const res = await deliver(world, to, req);
        expectRefused(res, before, await world.snapshot());
      });
    },
    [['registration', { shape: 'junk', method: 'GET', path: '/', headers: {}, body: '' }]],
  );

  defectProperty(
    6,
    'an event body over 64 KiB is a 413 from every event function, however it is framed (Content-Length, chunked, gzip)',
    (world) => {
      return fc.asyncProperty(fc.constantFrom<Target>('registration', 'rotateLink', 'sweep', 'local'), fc.constantFrom('length', 'chunked', 'gzip'), fc.integer({ min: 1, max: 4096 }), async (to, framing, extra) => {
        // A well-formed push body, padded past the limit with an attribute.
        const body = JSON.stringify({ message: { data: '', attributes: { pad: 'x'.repeat(MAX_BODY_BYTES + extra) } }, subscription: 'projects/p/subscriptions/s' });
        const req: EventRequest = { shape: 'push', method: 'POST', path: '/', headers: { 'content-type': 'application/json', ...(framing === 'gzip' ? { 'content-encoding': 'gzip' } : {}) }, body };
        const before = await world.snapshot();
        const res =
          framing === 'gzip'
            ? await send(to === 'local' ? world.urls.api : world.urls[to], { method: 'POST', path: to === 'local' ? '/events/cluster-registration' : '/', headers: req.headers, body: gzipSync(body) })
            : await deliver(world, to, req, framing === 'chunked' ? 'chunked' : undefined);
        expectRefused(res, before, await world.snapshot(), 413);
      });
    },
    [['registration', 'chunked', 1]],
  );

  defectProperty(
    7,
    'a structured-mode registration event that is JSON but no object (an array, a string) is a 400 from the local route, not "ignored"',
    (world) => {
      return fc.asyncProperty(fc.constantFrom('[]', '[{"message":{}}]', '"x"', '1', 'null', 'true'), async (body) => {
        const before = await world.snapshot();
        const res = await send(world.urls.api, { method: 'POST', path: '/events/cluster-registration', headers: { 'content-type': 'application/cloudevents+json' }, body });
        expectRefused(res, before, await world.snapshot(), 400);
      });
    },
    [['[]']],
  );
});
