// MESHLINK_STORE_RETRY: how long one Secret Manager call backs off on quota and unavailability.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config.js';

const sm = { MESHLINK_STORE: 'secret-manager', MESHLINK_PROJECT: 'p' };
const retryOf = (env: Record<string, string>) => {
  const { store } = parseConfig({ ...sm, ...env });
  return store.kind === 'secret-manager' ? store.retryMs : undefined;
};

describe('MESHLINK_STORE_RETRY', () => {
  it.each([
    [{}, 30_000],
    [{ MESHLINK_STORE_RETRY: '90s' }, 90_000],
    [{ MESHLINK_STORE_RETRY: '2m' }, 120_000],
    [{ MESHLINK_STORE_RETRY: 'off' }, 0],
    [{ MESHLINK_STORE_RETRY: '0' }, 0],
  ])('%j gives %i ms', (env, ms) => {
    expect(retryOf(env)).toBe(ms);
  });

  it.each(['soon', '1h', '-5s'])('refuses %s, naming the variable', (value) => {
    expect(() => parseConfig({ ...sm, MESHLINK_STORE_RETRY: value })).toThrow(expect.objectContaining({ code: 'invalid-argument', details: [expect.objectContaining({ path: 'MESHLINK_STORE_RETRY' })] }));
  });
});
