// MESHLINK_CONNECT_GATEWAY_ENDPOINT: an https base URL for the Connect gateway, refused otherwise.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config.js';
import { isMeshlinkError } from '../../shared/errors.js';

describe('MESHLINK_CONNECT_GATEWAY_ENDPOINT', () => {
  it('is absent by default (Google\'s endpoint)', () => {
    expect(parseConfig({}).connectGatewayEndpoint).toBeUndefined();
  });

  it.each([
    { value: 'https://connectgateway-psc.p.example.internal', want: 'https://connectgateway-psc.p.example.internal' },
    { value: ' https://10.0.0.5:8443/ ', want: 'https://10.0.0.5:8443' },
    { value: 'https://gw.example.com/base/', want: 'https://gw.example.com/base' },
  ])('takes $value as $want', ({ value, want }) => {
    expect(parseConfig({ MESHLINK_CONNECT_GATEWAY_ENDPOINT: value }).connectGatewayEndpoint).toBe(want);
  });

  it.each(['http://gw.example.com', 'gw.example.com:443', 'https://gw.example.com/?a=b', 'https://u:p@gw.example.com'])('refuses %s, naming the variable', (value) => {
    let error: unknown;
    try {
      parseConfig({ MESHLINK_CONNECT_GATEWAY_ENDPOINT: value });
    } catch (err) {
      error = err;
    }
    expect(isMeshlinkError(error, 'invalid-argument')).toBe(true);
    expect((error as Error).message).toContain('MESHLINK_CONNECT_GATEWAY_ENDPOINT');
  });
});
