// Rendering one-sided links: only our side's objects, pointing at the partner's server or pinning
// the partner's identities, valid for Istio's CRDs (both API versions, both protocols).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../shared/clusters/port.js';
import { credentialName, objectNames } from '../../shared/link/names.js';
import { parseLinkSpec, type LinkSpec } from '../../shared/link/spec.js';
import { gatewayServicePorts, renderClientObjects, renderServerObjects } from '../../shared/mesh/render.js';
import { validateIstioObject } from '../support/istio-models.js';
import { sideObjectHeads } from '../../shared/mesh/render.js';
import { specInput } from '../support/builders.js';
import { partnerPki, type PartnerPki } from '../support/partner-pki.js';
import { loadCrdValidator } from './crd-schemas.js';

const crd = loadCrdValidator();
let partner: PartnerPki;
beforeAll(() => {
  partner = partnerPki();
});
afterAll(() => partner.remove());

const SANS = ['spiffe://partner.example/db', 'db.partner.example'];
const names = objectNames('mysql');

function toPartnerServer(address: string, extra: Record<string, unknown> = {}): LinkSpec {
  return parseLinkSpec(specInput({ ...extra, server: { external: { address, port: 5432, caCertificates: partner.ca.pem, subjectAltNames: SANS } } }));
}

function fromPartnerClient(extra: Record<string, unknown> = {}): LinkSpec {
  return parseLinkSpec(specInput({ ...extra, client: { external: { caCertificates: partner.ca.pem, subjectAltNames: SANS } } }));
}

const find = (objects: KubeObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name) as (KubeObject & { spec: any }) | undefined;

const matrix = (['TCP', 'HTTP'] as const).flatMap((protocol) => (['networking.istio.io/v1beta1', 'networking.istio.io/v1'] as const).map((istioApiVersion) => ({ protocol, istioApiVersion })));

describe('server.external: the client cluster dials the partner', () => {
  it.each(matrix)('every object is valid for the CRDs ($protocol, $istioApiVersion)', (extra) => {
    for (const obj of renderClientObjects(toPartnerServer('203.0.113.9', extra))) {
      expect({ object: `${obj.kind}/${obj.metadata.name}`, issues: crd.validate(obj) }).toEqual({ object: `${obj.kind}/${obj.metadata.name}`, issues: [] });
      expect(validateIstioObject(obj)).toEqual([]);
    }
  });

  it('sends the host to the partner address: STATIC for an IP, on the partner port', () => {
    const se = find(renderClientObjects(toPartnerServer('203.0.113.9')), 'ServiceEntry', names.serviceEntry)!;
    expect(se.spec).toMatchObject({ hosts: ['mysql.link.example.com'], resolution: 'STATIC', endpoints: [{ address: '203.0.113.9', ports: { tls: 5432 } }] });
    expect(se.spec.ports).toEqual([
      { number: 3306, name: 'tcp', protocol: 'TCP' },
      { number: 5432, name: 'tls', protocol: 'TLS' },
    ]);
  });

  it('resolves a partner DNS name (DNS)', () => {
    const se = find(renderClientObjects(toPartnerServer('db.partner.example')), 'ServiceEntry', names.serviceEntry)!;
    expect(se.spec).toMatchObject({ resolution: 'DNS', endpoints: [{ address: 'db.partner.example' }] });
  });

  it("originates mTLS with the client Secret, SNI the host, pinning the partner's identities", () => {
    const objects = renderClientObjects(toPartnerServer('203.0.113.9'));
    const dr = find(objects, 'DestinationRule', names.originateDestinationRule)!;
    expect(dr.spec.trafficPolicy.portLevelSettings).toEqual([
      { port: { number: 5432 }, tls: { mode: 'MUTUAL', credentialName: credentialName('mysql', 'client'), sni: 'mysql.link.example.com', subjectAltNames: SANS } },
    ]);
    const vs = find(objects, 'VirtualService', names.egressVirtualService)!;
    expect(vs.spec.tcp[1].route).toEqual([{ destination: { host: 'mysql.link.example.com', port: { number: 5432 } } }]);
    expect(objects.map((o) => o.kind).sort()).toEqual(['DestinationRule', 'DestinationRule', 'Gateway', 'ServiceEntry', 'VirtualService']);
  });

  it('names no server-side object', () => {
    const spec = toPartnerServer('203.0.113.9');
    expect(() => renderServerObjects(spec)).toThrow(/partner's/);
    expect(sideObjectHeads(spec, 'client').map((o) => o.kind)).toEqual(['Secret', 'Gateway', 'ServiceEntry', 'VirtualService', 'DestinationRule', 'DestinationRule']);
    expect(gatewayServicePorts(spec, 'client').ports).toEqual([{ name: 'tls-meshlink-15443', port: 15443, targetPort: 15443, protocol: 'TCP' }]);
  });
});

describe('client.external: the partner dials our ingress gateway', () => {
  it.each(matrix)('every object is valid for the CRDs ($protocol, $istioApiVersion)', (extra) => {
    for (const obj of renderServerObjects(fromPartnerClient(extra))) {
      expect({ object: `${obj.kind}/${obj.metadata.name}`, issues: crd.validate(obj) }).toEqual({ object: `${obj.kind}/${obj.metadata.name}`, issues: [] });
      expect(validateIstioObject(obj)).toEqual([]);
    }
  });

  it("terminates mTLS with the server Secret and pins the partner's client identities", () => {
    const gw = find(renderServerObjects(fromPartnerClient()), 'Gateway', names.ingressGateway)!;
    expect(gw.spec.servers[0]).toMatchObject({ port: { number: 13306 }, hosts: ['mysql.link.example.com'], tls: { mode: 'MUTUAL', credentialName: credentialName('mysql', 'server'), subjectAltNames: SANS } });
  });

  it('names no client-side object', () => {
    expect(() => renderClientObjects(fromPartnerClient())).toThrow(/partner's/);
  });
});
