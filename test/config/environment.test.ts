// The configuration schema: every variable it reads refuses a bad value naming that variable, and
// one start reports every problem at once (the rules across variables included).
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config.js';

const SM = { MESHLINK_STORE: 'secret-manager', MESHLINK_PROJECT: 'p' };

const BAD: [variable: string, value: string, env?: Record<string, string>][] = [
  ['MESHLINK_SECRET_PREFIX', '1x'],
  ['MESHLINK_STORE', 'redis'],
  ['PORT', '70000'],
  ['MESHLINK_SWEEP_INTERVAL', 'often'],
  ['MESHLINK_ROTATION_TOPIC', 'topics/t'],
  ['MESHLINK_LOG_LEVEL', 'loud'],
  ['MESHLINK_LOG_FORMAT', 'text'],
  ['MESHLINK_PROJECT_NUMBER', 'p-1', { MESHLINK_PROJECT: 'p' }],
  ['MESHLINK_FLEET_PROJECT_NUMBER', '12x', { MESHLINK_FLEET_PROJECT: 'f' }],
  ['MESHLINK_CONNECT_GATEWAY_ENDPOINT', 'http://gw.example.com'],
  ['MESHLINK_CLUSTER_ACCESS', 'gke,eks'],
  ['MESHLINK_ROLLOVER_GRACE', 'soon'],
  ['MESHLINK_SWEEP_PAGE_SIZE', '0'],
  ['MESHLINK_SECRET_MANAGER_ENDPOINT', 'plaintext://10.0.0.1:9000', SM],
  ['MESHLINK_STORE_RETRY', '11m', SM],
  ['MESHLINK_CLAIMS_BUCKET', 'gs://claims', SM],
];

describe('parseConfig', () => {
  it.each(BAD)('refuses %s=%s naming the variable', (variable, value, env = {}) => {
    expect(() => parseConfig({ ...env, [variable]: value })).toThrow(expect.objectContaining({ code: 'invalid-argument', details: [{ path: variable, message: expect.any(String) }] }));
  });

  it('reports every problem of one environment, the rules across variables too', () => {
    expect(() => parseConfig({ PORT: 'x', MESHLINK_FLEET_PROJECT_NUMBER: '12', MESHLINK_VERSION_GRACE: '2d', MESHLINK_VERSION_RETENTION: '1d', MESHLINK_STORE: 'secret-manager' })).toThrow(
      expect.objectContaining({
        details: expect.arrayContaining(['PORT', 'MESHLINK_FLEET_PROJECT', 'MESHLINK_VERSION_RETENTION', 'MESHLINK_PROJECT'].map((path) => ({ path, message: expect.any(String) }))),
      }),
    );
  });

  it('reads blank as unset and a Secret Manager store with its defaults', () => {
    expect(parseConfig({ PORT: ' ', MESHLINK_LOG_LEVEL: 'debug', GOOGLE_CLOUD_PROJECT: 'g', MESHLINK_STORE: 'secret-manager' })).toMatchObject({
      port: 8080,
      logLevel: 'DEBUG',
      sweepIntervalMs: 60_000,
      store: { kind: 'secret-manager', project: 'g', retryMs: 30_000 },
    });
  });
});
