// MESHLINK_CAS_ENDPOINT: where the CA Service client connects (Google's when unset).
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config.js';

describe('MESHLINK_CAS_ENDPOINT', () => {
  it.each([
    [{}, undefined],
    [{ MESHLINK_CAS_ENDPOINT: 'privateca.p.googleapis.com' }, { host: 'privateca.p.googleapis.com', port: 443, plaintext: false }],
    [{ MESHLINK_CAS_ENDPOINT: 'cas.internal:8443' }, { host: 'cas.internal', port: 8443, plaintext: false }],
    [{ MESHLINK_CAS_ENDPOINT: 'plaintext://127.0.0.1:9443' }, { host: '127.0.0.1', port: 9443, plaintext: true }],
  ])('%j gives %j', (env, endpoint) => {
    expect(parseConfig(env).casEndpoint).toEqual(endpoint);
  });

  it.each([
    ['plaintext://cas.example.com:9443', /loopback/],
    ['ftp://x/y', /host\[:port\]/],
  ])('refuses %s, naming the variable', (value, message) => {
    expect(() => parseConfig({ MESHLINK_CAS_ENDPOINT: value })).toThrow(expect.objectContaining({ code: 'invalid-argument', details: [{ path: 'MESHLINK_CAS_ENDPOINT', message: expect.stringMatching(message) }] }));
  });
});
