// One-sided links in the spec: `server.external` and `client.external` are accepted with their
// defaults, and bad input is refused naming the field (partner CAs made by openssl at test time).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterSides, externalSide, immutableFieldsChanged, parseLinkSpec, specDocument } from '../../shared/link/spec.js';
import { specDetails, specInput } from '../support/builders.js';
import { partnerPki, type PartnerPki } from '../support/partner-pki.js';

let partner: PartnerPki;
let notCa: PartnerPki;
beforeAll(() => {
  partner = partnerPki();
  notCa = partnerPki({ ca: false, cn: 'not a CA' });
});
afterAll(() => {
  partner.remove();
  notCa.remove();
});

const SANS = ['spiffe://partner.example/db'];
const externalServer = () => ({ external: { address: '203.0.113.9', port: 5432, caCertificates: partner.ca.pem, subjectAltNames: SANS } });
const externalClient = () => ({ external: { caCertificates: partner.ca.pem, subjectAltNames: SANS } });

const detailsOf = specDetails;

describe('a link to a server the partner runs (server.external)', () => {
  it('is accepted: only the client side is ours, and no server fields are filled in', () => {
    const spec = parseLinkSpec(specInput({ server: externalServer() }));
    expect(externalSide(spec)).toBe('server');
    expect(clusterSides(spec)).toEqual(['client']);
    expect(spec.server).toEqual(externalServer());
  });

  it('round-trips through its stored document', () => {
    const spec = parseLinkSpec(specInput({ server: externalServer() }));
    expect(parseLinkSpec(specDocument(spec))).toEqual(spec);
  });

  it('takes a DNS name as the partner address', () => {
    const spec = parseLinkSpec(specInput({ server: { external: { ...externalServer().external, address: 'db.partner.example' } } }));
    expect(spec.server).toMatchObject({ external: { address: 'db.partner.example' } });
  });
});

describe('a link from a client the partner runs (client.external)', () => {
  it('is accepted: only the server side is ours', () => {
    const spec = parseLinkSpec(specInput({ client: externalClient() }));
    expect(externalSide(spec)).toBe('client');
    expect(clusterSides(spec)).toEqual(['server']);
    expect(parseLinkSpec(specDocument(spec))).toEqual(spec);
  });

  it('keeps a two-sided link two-sided', () => {
    const spec = parseLinkSpec(specInput());
    expect(externalSide(spec)).toBeUndefined();
    expect(clusterSides(spec)).toEqual(['server', 'client']);
  });
});

describe('bad one-sided input is a 400 naming the field', () => {
  const cases: { name: string; input: () => unknown; path: string; message: RegExp }[] = [
    { name: 'cluster and external on the server', input: () => specInput({ server: { ...externalServer(), cluster: 's' } }), path: 'server.cluster', message: /must not be set with server.external/ },
    { name: 'server fields with server.external', input: () => specInput({ server: { ...externalServer(), service: 'db.default.svc.cluster.local', port: 5432 } }), path: 'server.service', message: /must not be set/ },
    { name: 'cluster and external on the client', input: () => specInput({ client: { ...externalClient(), cluster: 'c' } }), path: 'client.cluster', message: /must not be set with client.external/ },
    { name: 'both sides external', input: () => specInput({ client: externalClient(), server: externalServer() }), path: 'client.external', message: /one side of a link must be in a cluster/ },
    { name: 'neither cluster nor external', input: () => specInput({ server: { service: 'db.default.svc.cluster.local', port: 5432 } }), path: 'server.cluster', message: /or server.external/ },
    { name: 'a missing caCertificates', input: () => specInput({ server: { external: { address: '203.0.113.9', port: 5432, subjectAltNames: SANS } } }), path: 'server.external.caCertificates', message: /is required/ },
    { name: 'a caCertificates that is not PEM', input: () => specInput({ client: { external: { caCertificates: 'not a certificate', subjectAltNames: SANS } } }), path: 'client.external.caCertificates', message: /must be PEM/ },
    { name: 'a malformed PEM block', input: () => specInput({ client: { external: { caCertificates: '-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n', subjectAltNames: SANS } } }), path: 'client.external.caCertificates', message: /must be PEM/ },
    { name: 'a certificate that is no CA', input: () => specInput({ server: { external: { ...externalServer().external, caCertificates: notCa.ca.pem } } }), path: 'server.external.caCertificates', message: /is not a CA certificate/ },
    { name: 'a CA bundle with a non-CA among CAs', input: () => specInput({ client: { external: { caCertificates: partner.ca.pem + notCa.ca.pem, subjectAltNames: SANS } } }), path: 'client.external.caCertificates', message: /certificate 2 .* is not a CA/ },
    { name: 'empty subjectAltNames', input: () => specInput({ server: { external: { ...externalServer().external, subjectAltNames: [] } } }), path: 'server.external.subjectAltNames', message: /at least one identity/ },
    { name: 'a missing subjectAltNames', input: () => specInput({ client: { external: { caCertificates: partner.ca.pem } } }), path: 'client.external.subjectAltNames', message: /is required/ },
    { name: 'an empty identity', input: () => specInput({ client: { external: { caCertificates: partner.ca.pem, subjectAltNames: [''] } } }), path: 'client.external.subjectAltNames.0', message: /must not be empty/ },
    { name: 'a port out of range', input: () => specInput({ server: { external: { ...externalServer().external, port: 70000 } } }), path: 'server.external.port', message: /1 to 65535/ },
    { name: 'port 0', input: () => specInput({ server: { external: { ...externalServer().external, port: 0 } } }), path: 'server.external.port', message: /1 to 65535/ },
    { name: 'a partner port equal to client.port', input: () => specInput({ server: { external: { ...externalServer().external, port: 3306 } } }), path: 'server.external.port', message: /must differ from client.port/ },
    { name: 'a bad partner address', input: () => specInput({ server: { external: { ...externalServer().external, address: 'not an address' } } }), path: 'server.external.address', message: /IPv4 address or a DNS name/ },
    { name: 'a missing partner address', input: () => specInput({ server: { external: { port: 5432, caCertificates: partner.ca.pem, subjectAltNames: SANS } } }), path: 'server.external.address', message: /is required/ },
    { name: 'an unknown field under external', input: () => specInput({ client: { external: { ...externalClient().external, trustDomain: 'x' } } }), path: 'client.external.trustDomain', message: /unknown field/ },
  ];

  it.each(cases)('$name', ({ input, path, message }) => {
    const details = detailsOf(input());
    expect(details.find((d) => d.path === path)?.message ?? JSON.stringify(details)).toMatch(message);
  });
});

describe('which side the partner runs', () => {
  it('cannot change on an existing link (409)', () => {
    const two = parseLinkSpec(specInput());
    expect(immutableFieldsChanged(two, parseLinkSpec(specInput({ server: externalServer() })))).toEqual(['server.external']);
    expect(immutableFieldsChanged(parseLinkSpec(specInput({ client: externalClient() })), two)).toEqual(['client.external']);
  });

  it('may change its CA bundle and identities (the partner renews its CA)', () => {
    const before = parseLinkSpec(specInput({ client: externalClient() }));
    const after = parseLinkSpec(specInput({ client: { external: { caCertificates: partner.ca.pem + partner.ca.pem, subjectAltNames: ['spiffe://partner.example/other'] } } }));
    expect(immutableFieldsChanged(before, after)).toEqual([]);
  });
});

describe('a one-sided link under an issuer', () => {
  it.each([
    ['server', () => ({ server: externalServer() })],
    ['client', () => ({ client: externalClient() })],
  ])('is accepted with the %s side external (the partner trusts the root: ca.pem)', (_side, sides) => {
    expect(parseLinkSpec(specInput({ issuer: 'corp', ...sides() })).issuer).toBe('corp');
  });
});
