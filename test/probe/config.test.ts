// The probe's configuration: MESHLINK_PROBE, _TIMEOUT, _CONCURRENCY and _GRACE, a bad value named.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config.js';
import { DEFAULT_SETTINGS } from '../../shared/app/deps.js';

describe('probe configuration', () => {
  it('defaults: the sweep probes, 5 s a dial, 8 at once', () => {
    expect(parseConfig({}).probe).toEqual(DEFAULT_SETTINGS.probe);
    expect(DEFAULT_SETTINGS.probe).toEqual({ sweep: true, timeoutMs: 5_000, concurrency: 8 });
  });

  it('reads each variable', () => {
    const config = parseConfig({ MESHLINK_PROBE: 'off', MESHLINK_PROBE_TIMEOUT: '2s', MESHLINK_PROBE_CONCURRENCY: '32', MESHLINK_PROBE_GRACE: '6h' });
    expect(config.probe).toEqual({ sweep: false, timeoutMs: 2_000, concurrency: 32 });
    expect(config.rotation.servedGraceMs).toBe(6 * 3_600_000);
  });

  it.each([
    ['MESHLINK_PROBE', 'no'],
    ['MESHLINK_PROBE_TIMEOUT', '2m'],
    ['MESHLINK_PROBE_TIMEOUT', 'soon'],
    ['MESHLINK_PROBE_CONCURRENCY', '0'],
    ['MESHLINK_PROBE_CONCURRENCY', '1.5'],
    ['MESHLINK_PROBE_GRACE', 'a day'],
  ])('%s=%s is refused, naming the variable', (name, value) => {
    expect(() => parseConfig({ [name]: value })).toThrow(expect.objectContaining({ details: [expect.objectContaining({ path: name })] }));
  });
});
