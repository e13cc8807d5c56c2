import { describe, expect, it } from 'vitest';
import { clusterSide, immutableFieldsChanged, parseLinkSpec, specDocument } from '../../shared/link/spec.js';
import { formatDuration, parseDuration } from '../../shared/link/duration.js';
import { specDetails, specInput, withField } from '../support/builders.js';


describe('parseLinkSpec', () => {
  it('fills in every default of the reference walkthrough', () => {
    const spec = parseLinkSpec(specInput());
    expect(spec.protocol).toBe('TCP');
    expect(spec.istioApiVersion).toBe('networking.istio.io/v1beta1');
    expect(clusterSide(spec, 'server').gatewayPort).toBe(13306);
    expect(clusterSide(spec, 'client').egressPort).toBe(15443);
    expect(clusterSide(spec, 'client').gateway).toEqual({ namespace: 'istio-system', selector: { istio: 'egressgateway' }, service: 'istio-egressgateway' });
    expect(clusterSide(spec, 'server').gateway).toEqual({ namespace: 'istio-system', selector: { istio: 'ingressgateway' }, service: 'istio-ingressgateway' });
    expect(spec.tls.minProtocolVersion).toBe('TLSV1_3');
    expect(spec.certificates).toMatchObject({ keyAlgorithm: 'ECDSA-P256', leafTtl: '30d', caTtl: '365d', leafTtlMs: 30 * 86_400_000 });
  });

  it('keeps what the user set', () => {
    const spec = parseLinkSpec(
      specInput({ protocol: 'HTTP', istioApiVersion: 'networking.istio.io/v1', certificates: { keyAlgorithm: 'RSA-3072', leafTtl: '1m', caTtl: '12h', renewBefore: '33%' } }),
    );
    expect(spec.protocol).toBe('HTTP');
    expect(spec.istioApiVersion).toBe('networking.istio.io/v1');
    expect(spec.certificates).toMatchObject({ keyAlgorithm: 'RSA-3072', leafTtlMs: 60_000, caTtlMs: 12 * 3_600_000, renewBefore: '33%' });
  });

  it('round-trips through its stored document', () => {
    const spec = parseLinkSpec(specInput({ server: { cluster: 's', service: 'db.prod.svc.cluster.local', port: 5432, address: '203.0.113.7' } }));
    expect(parseLinkSpec(JSON.parse(JSON.stringify(specDocument(spec))))).toEqual(spec);
  });

  it.each([
    ['a missing name', withField(specInput(), 'name', undefined), 'name', /required/],
    ['a name that is not DNS-1123', withField(specInput(), 'name', 'My_Link'), 'name', /DNS-1123/],
    ['a name too long for derived names', withField(specInput(), 'name', 'a'.repeat(41)), 'name', /at most 40/],
    ['a host that is not an FQDN', withField(specInput(), 'host', 'mysql'), 'host', /fully qualified/],
    ['a host with uppercase', withField(specInput(), 'host', 'MySQL.example.com'), 'host', /fully qualified/],
    ['an unknown top-level field', { ...specInput(), color: 'blue' }, 'color', /unknown field/],
    ['an unknown nested field', withField(specInput(), 'server.gatewayPrt', 1), 'server.gatewayPrt', /unknown field/],
    ['a port out of range', withField(specInput(), 'server.gatewayPort', 70000), 'server.gatewayPort', /1 to 65535/],
    ['a port of zero', withField(specInput(), 'client.port', 0), 'client.port', /1 to 65535/],
    ['a fractional port', withField(specInput(), 'server.port', 33.5), 'server.port', /whole number/],
    ['a port given as text', withField(specInput(), 'server.port', '3306'), 'server.port', /number/],
    ['a missing server service', withField(specInput(), 'server.service', undefined), 'server.service', /required/],
    ['a missing client cluster', withField(specInput(), 'client.cluster', undefined), 'client.cluster', /required|cluster/],
    ['an unknown protocol', withField(specInput(), 'protocol', 'UDP'), 'protocol', /./],
    ['an unknown key algorithm', withField(specInput(), 'certificates', { keyAlgorithm: 'DSA-1024' }), 'certificates.keyAlgorithm', /./],
    ['a malformed duration', withField(specInput(), 'certificates', { leafTtl: '30 days' }), 'certificates.leafTtl', /duration/],
    ['a lifetime under the minimum', withField(specInput(), 'certificates', { leafTtl: '30s', caTtl: '1h' }), 'certificates.leafTtl', /at least 1m/],
    ['a CA that would not outlive its leaves', withField(specInput(), 'certificates', { leafTtl: '30d', caTtl: '40d' }), 'certificates.caTtl', /twice/],
    ['a malformed renewBefore', withField(specInput(), 'certificates', { renewBefore: 'soon' }), 'certificates.renewBefore', /duration|percentage/],
    ['an address that is neither IP nor name', withField(specInput(), 'server.address', 'not an address!'), 'server.address', /IPv4|DNS/],
    ['a gateway port that cannot be derived', withField(specInput(), 'server.port', 60000), 'server.gatewayPort', /required/],
    ['an empty gateway selector', withField(specInput(), 'server.gateway', { selector: {} }), 'server.gateway.selector', /at least one/],
    ['an unknown Istio API version', withField(specInput(), 'istioApiVersion', 'networking.istio.io/v1alpha3'), 'istioApiVersion', /./],
    ['a spec that is not an object', 'mysql', '(root)', /./],
  ])('rejects %s, naming the field', (_label, input, path, message) => {
    const details = specDetails(input);
    const detail = details.find((d) => d.path === path);
    expect(detail, JSON.stringify(details)).toBeDefined();
    expect(detail!.message).toMatch(message);
  });

  it('reports every problem at once', () => {
    const details = specDetails({ name: 'X', host: 'y', client: { cluster: 'c', port: -1 }, server: { cluster: 's', service: 'svc.local', port: 3306 } });
    expect(details.map((d) => d.path).sort()).toEqual(['client.port', 'host', 'name']);
  });

  it('names host and key algorithm as the fields bound to the certificates', () => {
    const a = parseLinkSpec(specInput());
    expect(immutableFieldsChanged(a, parseLinkSpec(withField(specInput(), 'server.port', 3307)))).toEqual([]);
    expect(immutableFieldsChanged(a, parseLinkSpec(withField(specInput(), 'host', 'other.example.com')))).toEqual(['host']);
    expect(immutableFieldsChanged(a, parseLinkSpec(withField(specInput(), 'certificates', { keyAlgorithm: 'RSA-2048' })))).toEqual(['certificates.keyAlgorithm']);
  });
});

describe('durations', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['12h', 43_200_000],
    ['30d', 2_592_000_000],
  ])('parses %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
  it.each(['', '0s', '1w', '1.5h', '-1m', '10', 'm'])('rejects %j', (text) => expect(parseDuration(text)).toBeUndefined());
});
