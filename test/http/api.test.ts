// In-process tests of every route and error of the HTTP API (handleApiRequest is what the
// functions-framework handler calls; test/http/framework.test.ts covers the framework path).
import { describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { handleApiRequest, MAX_BODY_BYTES, type ApiRequest } from '../../functions/http-api.js';
import { credentialName } from '../../shared/link/names.js';
import { specInput, withField } from '../support/builders.js';
import { storeWrites, testApp, type TestApp } from '../support/app.js';
import { unavailable } from '../support/memory-clusters.js';

function json(method: string, path: string, body?: unknown): ApiRequest {
  return { method, path, contentType: 'application/json', body: Buffer.from(body === undefined ? '' : JSON.stringify(body)) };
}

async function call(app: TestApp, req: ApiRequest) {
  const res = await handleApiRequest(app.deps, req);
  return { status: res.status, body: res.body as Record<string, any> };
}

function snapshot(app: TestApp): string {
  return JSON.stringify({ calls: storeWrites(app.store), writes: app.clusters.totalWrites });
}

describe('POST /links', () => {
  it('creates a link: 201 with its status and no key material', async () => {
    const app = testApp();
    const res = await call(app, json('POST', '/links', specInput()));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'mysql',
      host: 'mysql.link.example.com',
      phase: 'stable',
      client: { cluster: 'client-cluster', credentialName: credentialName('mysql', 'client'), namespace: 'istio-system', sync: { status: 'synced' } },
      server: { cluster: 'server-cluster', credentialName: credentialName('mysql', 'server'), namespace: 'istio-system', sync: { status: 'synced' } },
    });
    expect(res.body.ca).toHaveLength(1);
    expect(res.body.client.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(new Date(res.body.server.notAfter).getTime()).toBeGreaterThan(app.clock().getTime());
    expect(JSON.stringify(res.body)).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
    expect(JSON.stringify(app.log.lines)).not.toMatch(/PRIVATE KEY/);
    // The same status GET /links/{name} answers, the rotation's next step included.
    expect(res.body).toEqual((await call(app, json('GET', '/links/mysql'))).body);
    expect(res.body.rotation.next).toMatchObject({ step: expect.any(String), reason: expect.any(String) });
  });

  it('accepts YAML', async () => {
    const app = testApp();
    const res = await call(app, { method: 'POST', path: '/links', contentType: 'application/yaml', body: Buffer.from(toYaml(specInput())) });
    expect(res.status).toBe(201);
    expect(res.body.name).toBe('mysql');
  });

  it('answers the same spec with 200 and writes nothing, to the store or a cluster', async () => {
    const app = testApp();
    const first = await call(app, json('POST', '/links', specInput()));
    const before = snapshot(app);
    const again = await call(app, json('POST', '/links', specInput()));
    expect(again.status).toBe(200);
    expect(snapshot(app)).toBe(before);
    expect(again.body.client.fingerprint).toBe(first.body.client.fingerprint);
    expect(again.body.ca).toEqual(first.body.ca);
  });

  it('re-renders a changed mutable field with 200 and the same certificates', async () => {
    const app = testApp();
    const first = await call(app, json('POST', '/links', specInput()));
    const changed = await call(app, json('POST', '/links', withField(specInput(), 'server.gatewayPort', 14000)));
    expect(changed.status).toBe(200);
    expect(changed.body.spec.server.gatewayPort).toBe(14000);
    expect(changed.body.server.fingerprint).toBe(first.body.server.fingerprint);
    const gateway = app.clusters.target('server-cluster').get('Gateway', 'istio-system', 'mysql-ingress') as any;
    expect(gateway.spec.servers[0].port.number).toBe(14000);
  });

  it('refuses a host change with 409 and keeps the link as it was', async () => {
    const app = testApp();
    await call(app, json('POST', '/links', specInput()));
    const before = snapshot(app);
    const res = await call(app, json('POST', '/links', withField(specInput(), 'host', 'elsewhere.example.com')));
    expect(res.status).toBe(409);
    expect(res.body.details).toEqual([{ path: 'host', message: expect.stringMatching(/cannot change/) }]);
    expect(snapshot(app)).toBe(before);
    expect((await call(app, json('GET', '/links/mysql'))).body.host).toBe('mysql.link.example.com');
  });

  it('refuses a gateway port another link uses on the same server cluster', async () => {
    const app = testApp();
    await call(app, json('POST', '/links', specInput()));
    const before = snapshot(app);
    const res = await call(app, json('POST', '/links', specInput({}, 'postgres')));
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ path: 'server.gatewayPort', message: expect.stringMatching(/already used by link mysql/) }]);
    expect(snapshot(app)).toBe(before);
    const other = await call(app, json('POST', '/links', withField(specInput({}, 'postgres'), 'server.gatewayPort', 15432)));
    expect(other.status).toBe(201);
  });

  it.each([
    ['malformed JSON', { method: 'POST', path: '/links', contentType: 'application/json', body: Buffer.from('{"name": ') }, 400, /not valid JSON/],
    ['malformed YAML', { method: 'POST', path: '/links', contentType: 'application/yaml', body: Buffer.from('name: [unclosed') }, 400, /not valid YAML/],
    ['an empty body', { method: 'POST', path: '/links', contentType: 'application/json', body: Buffer.alloc(0) }, 400, /empty/],
    ['an unsupported content type', { method: 'POST', path: '/links', contentType: 'text/plain', body: Buffer.from('name=mysql') }, 415, /not supported/],
    ['a body over the limit', { method: 'POST', path: '/links', contentType: 'application/json', body: Buffer.alloc(MAX_BODY_BYTES + 1, 32) }, 413, /larger than/],
    ['an invalid spec', json('POST', '/links', withField(specInput(), 'name', 'Bad Name')), 400, /invalid link spec/],
  ])('answers %s with a JSON error and stores nothing', async (_label, req, status, message) => {
    const app = testApp();
    const res = await call(app, req as ApiRequest);
    expect(res.status).toBe(status);
    expect(res.body.error).toMatch(message);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    expect(storeWrites(app.store)).toBe(0);
  });

  it.each([
    ['!!js/function', 'name', (y: string) => y.replace('name: mysql', 'name: !!js/function mysql')],
    ['!foo', 'host', (y: string) => y.replace('host: ', 'host: !foo ')],
    ['!!binary', 'server.service', (y: string) => y.replace('service: ', 'service: !!binary ')],
    ['!bar', 'client.port', (y: string) => y.replace('port: 3306', 'port: !bar 3306')],
  ])('refuses YAML with the tag %s: 400 naming the tag and the field, nothing stored', async (tag, path, edit) => {
    const app = testApp();
    const yaml = edit(toYaml(specInput()));
    expect(yaml).toContain(tag);
    const res = await call(app, { method: 'POST', path: '/links', contentType: 'application/yaml', body: Buffer.from(yaml) });
    expect(res).toEqual({ status: 400, body: { error: 'request body is not valid YAML', details: [{ path, message: `unknown YAML tag ${tag}: only JSON's types are read` }] } });
    expect(storeWrites(app.store)).toBe(0);
  });

  it('reads the YAML tags of JSON types', async () => {
    const app = testApp();
    const yaml = toYaml(specInput()).replace('name: mysql', 'name: !!str mysql').replace('port: 3306', 'port: !!int 3306');
    expect((await call(app, { method: 'POST', path: '/links', contentType: 'application/yaml', body: Buffer.from(yaml) })).status).toBe(201);
  });

  it('names the offending field of an invalid spec', async () => {
    const app = testApp();
    const res = await call(app, json('POST', '/links', withField(specInput(), 'server.gatewayPort', 70000)));
    expect(res.body).toEqual({ error: 'invalid link spec', details: [{ path: 'server.gatewayPort', message: 'must be 1 to 65535' }] });
  });
});

describe('GET and DELETE', () => {
  it('lists links and reads one', async () => {
    const app = testApp();
    await call(app, json('POST', '/links', specInput()));
    await call(app, json('POST', '/links', withField(specInput({}, 'pg'), 'server.gatewayPort', 15432)));
    const list = await call(app, json('GET', '/links'));
    expect(list.status).toBe(200);
    expect(list.body.links.map((l: any) => l.name)).toEqual(['mysql', 'pg']);
    const one = await call(app, json('GET', '/links/pg'));
    expect(one.status).toBe(200);
    expect(one.body.server.credentialName).toBe(credentialName('pg', 'server'));
  });

  it('answers 404 for an unknown link', async () => {
    const app = testApp();
    expect((await call(app, json('GET', '/links/nope'))).status).toBe(404);
    expect((await call(app, json('DELETE', '/links/nope'))).status).toBe(404);
  });

  it('deletes a link: objects gone from both clusters, secrets gone from the store', async () => {
    const app = testApp();
    await call(app, json('POST', '/links', specInput()));
    expect(app.clusters.target('client-cluster').objects.size).toBeGreaterThan(0);
    const res = await call(app, json('DELETE', '/links/mysql'));
    expect(res.status).toBe(204);
    expect(app.clusters.target('client-cluster').objects.size).toBe(0);
    expect(app.clusters.target('server-cluster').objects.size).toBe(0);
    const ingress = await app.clusters.target('server-cluster').getService('istio-system', 'istio-ingressgateway');
    expect(ingress?.ports.map((p) => p.name)).not.toContain('tls-mysql');
    expect((await app.memory.listSecrets({ labels: {} })).secrets).toEqual([]);
    expect((await call(app, json('GET', '/links/mysql'))).status).toBe(404);
    // and it can be created again from scratch
    expect((await call(app, json('POST', '/links', specInput()))).status).toBe(201);
  });

  it('deletes a link whose client cluster does not answer: 202 naming what is left for the sweep, again on a retry; ?force=true gives it up (200)', async () => {
    const app = testApp();
    await call(app, json('POST', '/links', specInput()));
    app.clusters.target('client-cluster').failure = unavailable('client-cluster');
    const pending = [{ what: 'objects', side: 'client', cluster: 'client-cluster', namespace: 'istio-system' }];
    const first = await call(app, json('DELETE', '/links/mysql'));
    expect(first).toEqual({ status: 202, body: { link: 'mysql', pending, abandoned: [] } });
    expect((await call(app, json('GET', '/links/mysql'))).status).toBe(404);
    expect(await call(app, json('DELETE', '/links/mysql'))).toEqual(first);
    const bad = await call(app, { ...json('DELETE', '/links/mysql'), query: { force: 'yes' } });
    expect(bad).toMatchObject({ status: 400, body: { details: [{ path: 'force' }] } });
    const forced = await call(app, { ...json('DELETE', '/links/mysql'), query: { force: 'true' } });
    expect(forced).toEqual({ status: 200, body: { link: 'mysql', pending: [], abandoned: pending } });
    expect((await app.memory.listSecrets({ labels: {} })).secrets).toEqual([]);
  });

  it('answers 405 for a wrong method and 404 for an unknown path', async () => {
    const app = testApp();
    expect((await call(app, json('PUT', '/links/mysql'))).status).toBe(405);
    expect((await call(app, json('GET', '/nothing-here'))).status).toBe(404);
  });
});

describe('the nip.io host convention', () => {
  const conventional = () => withField(specInput({ hostConvention: 'nip.io' }), 'host', undefined);

  it('names the host after the ingress address read from the server cluster', async () => {
    const app = testApp();
    app.clusters.target('server-cluster').seedService('istio-system', 'istio-ingressgateway', [{ name: 'https', port: 443 }], '198.51.100.7');
    const res = await call(app, json('POST', '/links', conventional()));
    expect(res.status).toBe(201);
    expect(res.body.host).toBe('198.51.100.7.nip.io');
    // the same input again resolves to the same host: unchanged
    expect((await call(app, json('POST', '/links', conventional()))).status).toBe(200);
  });

  it('uses server.address when given', async () => {
    const app = testApp();
    const res = await call(app, json('POST', '/links', withField(conventional(), 'server.address', '203.0.113.9')));
    expect(res.body.host).toBe('203.0.113.9.nip.io');
  });

  it('asks for a host while the ingress has no address', async () => {
    const app = testApp();
    const res = await call(app, json('POST', '/links', conventional()));
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ path: 'host', message: expect.stringMatching(/nip.io convention needs an IPv4/) }]);
    expect(storeWrites(app.store)).toBe(0);
  });
});
