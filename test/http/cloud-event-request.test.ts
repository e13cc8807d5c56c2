// cloudEventFromRequest as a property: whatever the body, content type and headers, it answers a
// CloudEvent or a 4xx MeshlinkError naming a path, never another exception (which the framework
// would turn into a 500, and Pub/Sub would redeliver for ever).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloudEventFromRequest } from '../../functions/cloud-event-request.js';
import { errorResponse } from '../../functions/http-api.js';
import { MeshlinkError } from '../../shared/errors.js';

const contentTypes = fc.constantFrom(undefined, 'application/json', 'application/cloudevents+json', 'text/plain', 'application/octet-stream', 'foo', '*/*', 'application/json; charset=utf-8');
const ceHeaders = fc.record({ 'ce-specversion': fc.constant('1.0'), 'ce-type': fc.string(), 'ce-source': fc.string(), 'ce-id': fc.string() }, { requiredKeys: [] });
const bodies = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '')),
  fc.record({ message: fc.jsonValue(), subscription: fc.string() }, { requiredKeys: [] }).map((v) => Buffer.from(JSON.stringify(v))),
);

describe('cloudEventFromRequest', () => {
  it('answers any request with an event or a 4xx naming a path, never another error', () => {
    fc.assert(
      fc.property(contentTypes, ceHeaders, bodies, (contentType, headers, body) => {
        try {
          cloudEventFromRequest({ method: 'POST', path: '/', ...(contentType ? { contentType } : {}), headers, body });
        } catch (err) {
          expect(err).toBeInstanceOf(MeshlinkError);
          const res = errorResponse(err);
          expect(res.status).toBe(400);
          expect((res.body as { details: unknown[] }).details).toEqual(expect.arrayContaining([{ path: expect.any(String), message: expect.any(String) }]));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses every JSON value but an object as a structured event', () => {
    fc.assert(
      fc.property(
        fc.jsonValue().filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)),
        (value) => {
          const req = { method: 'POST', path: '/', contentType: 'application/cloudevents+json', body: Buffer.from(JSON.stringify(value)) };
          expect(() => cloudEventFromRequest(req)).toThrow(/a structured CloudEvent must be a JSON object/);
        },
      ),
    );
  });
});

describe('cloudEventFromRequest, decoded by the cloudevents SDK', () => {
  const message = { message: { data: Buffer.from('{"link":"mysql"}').toString('base64'), messageId: '7' }, subscription: 'projects/p/subscriptions/s' };
  const attributes = { specversion: '1.0', id: 'id-1', source: '//pubsub.googleapis.com/projects/p/topics/t', type: 'google.cloud.pubsub.topic.v1.messagePublished' };

  it('reads a structured event whose data comes as data_base64', () => {
    const body = Buffer.from(JSON.stringify({ ...attributes, datacontenttype: 'application/json', data_base64: Buffer.from(JSON.stringify(message)).toString('base64') }));
    const event = cloudEventFromRequest({ method: 'POST', path: '/', contentType: 'application/cloudevents+json', body }) as { data?: unknown; id?: string };
    expect(event).toMatchObject({ id: 'id-1', data: message });
  });

  it('reads a binary-mode event: the attributes from the ce-* headers, the data from the body', () => {
    const headers = Object.fromEntries(Object.entries(attributes).map(([k, v]) => [`ce-${k}`, v]));
    const event = cloudEventFromRequest({ method: 'POST', path: '/', contentType: 'application/json', headers, body: Buffer.from(JSON.stringify(message)) });
    expect(event).toMatchObject({ ...attributes, data: message });
  });
});
