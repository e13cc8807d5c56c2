// The HTTP function through functions-framework's own server (the production path): routing,
// body decoding by the framework, and errors the framework would otherwise answer itself
// (malformed JSON, oversized bodies) coming back as the API's JSON errors, never a stack trace.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import '../../functions/index.js';
import { MAX_BODY_BYTES } from '../../functions/http-api.js';
import { FUNCTION_NAMES } from '../../functions/names.js';
import { setRuntimeDeps } from '../../functions/runtime.js';
import { specInput } from '../support/builders.js';
import { storeWrites, testApp } from '../support/app.js';
import { unavailable } from '../support/memory-clusters.js';

describe(`the ${FUNCTION_NAMES.api} HTTP function behind functions-framework`, () => {
  const app = testApp({ start: new Date().toISOString() });
  let server: Server;
  let url: string;

  beforeAll(async () => {
    setRuntimeDeps(app.deps);
    server = getTestServer(FUNCTION_NAMES.api) as unknown as Server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    setRuntimeDeps(undefined);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function send(method: string, path: string, body?: string | Buffer, contentType = 'application/json') {
    const res = await fetch(url + path, { method, ...(body !== undefined ? { body: typeof body === 'string' ? body : new Uint8Array(body), headers: { 'content-type': contentType } } : {}) });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: text ? JSON.parse(text) : undefined };
  }

  it('creates a link from JSON and from YAML, and reads it back', async () => {
    const created = await send('POST', '/links', JSON.stringify(specInput()));
    expect(created.status).toBe(201);
    const yaml = await send('POST', '/links', 'name: mysql\nhost: mysql.link.example.com\nclient: {cluster: client-cluster, port: 3306}\nserver: {cluster: server-cluster, service: mysql.default.svc.cluster.local, port: 3306}\n', 'application/yaml');
    expect(yaml.status).toBe(200);
    const read = await send('GET', '/links/mysql');
    expect(read.json.client.fingerprint).toBe(created.json.client.fingerprint);
  });

  it.each([
    ['malformed JSON', '{"name": "mysql",', 'application/json', 400, /not valid JSON/],
    ['JSON that is not an object', '"mysql"', 'application/json', 400, /invalid link spec/],
    ['an unsupported content type', 'name=mysql', 'text/plain', 415, /not supported/],
    ['a body over the limit', Buffer.alloc(MAX_BODY_BYTES + 1, 32), 'application/json', 413, /larger than/],
  ])('answers %s with a JSON error, no stack trace, nothing stored', async (_label, body, type, status, message) => {
    const writes = storeWrites(app.store);
    const res = await send('POST', '/links', body, type);
    expect(res.status).toBe(status);
    expect(res.type).toMatch(/application\/json/);
    expect(res.json.error).toMatch(message);
    expect(res.text).not.toMatch(/\bat .+:\d+:\d+|<html|<!DOCTYPE/i);
    expect(storeWrites(app.store)).toBe(writes);
  });

  it('serves the status page as HTML with its headers, not as JSON', async () => {
    const res = await fetch(url + '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.text()).toMatch(/^<!DOCTYPE html>[\s\S]*<tr class="link" data-link="mysql">/);
  });

  it.each(['foo', '*/*'])('answers a rotation request with the unreadable Content-Type %s with 415, as POST /links', async (type) => {
    await send('POST', '/links', JSON.stringify(specInput()));
    const writes = storeWrites(app.store);
    for (const path of ['/links/mysql:rotate', '/links']) {
      const res = await send('POST', path, JSON.stringify({ ...specInput(), scope: 'leaf' }), type);
      expect(res.status).toBe(415);
      expect(res.json.error).toMatch(/not supported/);
    }
    expect(storeWrites(app.store)).toBe(writes);
  });

  it('reads the query string: DELETE ?force=true gives up what a cluster not answering holds', async () => {
    const spec = specInput({ client: { cluster: 'client-cluster', port: 5432 }, server: { cluster: 'server-cluster', service: 'pg.default.svc.cluster.local', port: 5432 } }, 'forced');
    expect((await send('POST', '/links', JSON.stringify(spec))).status).toBe(201);
    app.clusters.target('client-cluster').failure = unavailable('client-cluster');
    try {
      expect((await send('DELETE', '/links/forced')).status).toBe(202);
      expect((await send('DELETE', '/links/forced?force=maybe')).json.details).toEqual([expect.objectContaining({ path: 'force' })]);
      const forced = await send('DELETE', '/links/forced?force=true');
      expect(forced.status).toBe(200);
      expect(forced.json.abandoned).toEqual([expect.objectContaining({ cluster: 'client-cluster' })]);
    } finally {
      app.clusters.target('client-cluster').failure = undefined;
    }
  });

  it('answers unknown paths and methods in JSON', async () => {
    expect((await send('GET', '/nowhere')).status).toBe(404);
    expect((await send('PATCH', '/links/mysql', '{}')).status).toBe(405);
  });
});
