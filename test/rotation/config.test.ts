// Rotation settings from the environment: durations and counts, defaults, and errors that name
// the variable.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../shared/app/deps.js';
import { composeApp } from '../../shared/compose.js';
import { parseConfig } from '../../shared/config.js';
import { isMeshlinkError } from '../../shared/errors.js';

describe('rotation settings in the environment', () => {
  it('takes each variable into its setting', () => {
    const config = parseConfig({
      MESHLINK_ROLLOVER_GRACE: '30m',
      MESHLINK_PARTNER_LEAD: '21d',
      MESHLINK_FORCED_ROLLOVER_GRACE: '90s',
      MESHLINK_VERSION_GRACE: '2h',
      MESHLINK_VERSION_RETENTION: '14d',
      MESHLINK_SYNC_RETRY: '1m',
      MESHLINK_LEASE: '5m',
      MESHLINK_SWEEP_PAGE_SIZE: '500',
      MESHLINK_ROTATION_CONCURRENCY: '8',
      MESHLINK_WRITE_BUDGET: '120',
    });
    expect(config.rotation).toEqual({
      rolloverGraceMs: 1_800_000,
      partnerLeadMs: 21 * 86_400_000,
      forcedRolloverGraceMs: 90_000,
      versionGraceMs: 7_200_000,
      versionRetentionMs: 14 * 86_400_000,
      syncRetryMs: 60_000,
      leaseMs: 300_000,
      sweepPageSize: 500,
      rotationConcurrency: 8,
      writeBudget: 120,
    });
  });

  it('keeps the defaults for what is not set, in the composed app', async () => {
    const deps = await composeApp(parseConfig({ MESHLINK_STATE_DIR: '/tmp/meshlink-config-test', MESHLINK_ROLLOVER_GRACE: '30m' }), { workerId: 'w' });
    expect(deps.settings).toEqual({ ...DEFAULT_SETTINGS, rolloverGraceMs: 1_800_000 });
    expect(parseConfig({}).sweepIntervalMs).toBe(60_000);
  });

  it.each([
    ['MESHLINK_ROLLOVER_GRACE', 'soon', /duration/],
    ['MESHLINK_VERSION_RETENTION', '0d', /duration/],
    ['MESHLINK_SWEEP_PAGE_SIZE', '30000', /1 to 25000/],
    ['MESHLINK_ROTATION_CONCURRENCY', '2.5', /whole number/],
    ['MESHLINK_WRITE_BUDGET', '0', /whole number/],
    ['MESHLINK_SWEEP_INTERVAL', 'often', /duration/],
  ])('refuses %s=%s, naming the variable', (name, value, message) => {
    try {
      parseConfig({ [name]: value });
      expect.unreachable();
    } catch (err) {
      expect(isMeshlinkError(err, 'invalid-argument')).toBe(true);
      expect((err as { details: unknown }).details).toEqual([{ path: name, message: expect.stringMatching(message) }]);
    }
  });

  it('refuses a retention shorter than the grace', () => {
    expect(() => parseConfig({ MESHLINK_VERSION_GRACE: '2d', MESHLINK_VERSION_RETENTION: '1d' })).toThrow(/MESHLINK_VERSION_RETENTION must not be shorter/);
  });
});
