// Rendering: every object of both sides is valid for Istio's CRDs and carries the anatomy's field values.
import { describe, expect, it } from 'vitest';
import { isMeshlinkError } from '../../shared/errors.js';
import type { KubeObject } from '../../shared/clusters/port.js';
import type { LinkSpec } from '../../shared/link/spec.js';
import {
  ANNOTATION_REVISION,
  credentialName,
  egressServicePortName,
  objectLabels,
  objectNames,
  sideIdentity,
} from '../../shared/link/names.js';
import { gatewayServicePorts, managedKinds, renderClientObjects, renderCredentialSecret, renderServerObjects } from '../../shared/mesh/render.js';
import { revisionOf } from '../../shared/mesh/revision.js';
import { validateIstioObject } from '../support/istio-models.js';
import { credential, linkSpec } from './builders.js';
import { loadCrdValidator } from './crd-schemas.js';

const crd = loadCrdValidator();

const PROTOCOLS = ['TCP', 'HTTP'] as const;
const VERSIONS = ['networking.istio.io/v1beta1', 'networking.istio.io/v1'] as const;
const ADDRESSES = [
  { label: 'no address', address: undefined },
  { label: 'an IPv4 address', address: '203.0.113.7' },
  { label: 'a load balancer hostname', address: 'lb-1.elb.example.net' },
];

const matrix = PROTOCOLS.flatMap((protocol) =>
  VERSIONS.flatMap((istioApiVersion) => ADDRESSES.map((a) => ({ protocol, istioApiVersion, ...a }))),
);

/** A spec with non-default namespaces, services and ports, so values visibly come from the spec. */
function customSpec(protocol: 'TCP' | 'HTTP', istioApiVersion: (typeof VERSIONS)[number]): LinkSpec {
  return linkSpec({
    name: 'orders-db',
    host: 'orders.link.example.com',
    protocol,
    istioApiVersion,
    tls: { minProtocolVersion: 'TLSV1_2' },
    client: { port: 5432, egressPort: 16443, gateway: { namespace: 'egress-ns', service: 'egress-gw', selector: { app: 'egress', tier: 'edge' } } },
    server: {
      service: 'postgres.db.svc.cluster.local',
      port: 5432,
      gatewayPort: 25432,
      gateway: { namespace: 'ingress-ns', service: 'ingress-gw', selector: { app: 'ingress' } },
    },
  });
}

function find(objects: KubeObject[], kind: string, name: string): KubeObject & { spec: any } {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} in ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found as KubeObject & { spec: any };
}

describe('every rendered Istio object is valid', () => {
  it.each(matrix)('$protocol, $istioApiVersion, $label: both sides validate against the CRD file and the models', ({ protocol, istioApiVersion, address }) => {
    for (const spec of [linkSpec({ protocol, istioApiVersion }), customSpec(protocol, istioApiVersion)]) {
      const objects = [...renderClientObjects(spec, { address }), ...renderServerObjects(spec)];
      expect(objects).toHaveLength(7);
      for (const obj of objects) {
        expect(obj.apiVersion).toBe(istioApiVersion);
        expect({ object: `${obj.kind}/${obj.metadata.name}`, issues: crd.validate(obj) }).toEqual({ object: `${obj.kind}/${obj.metadata.name}`, issues: [] });
        expect({ object: `${obj.kind}/${obj.metadata.name}`, issues: validateIstioObject(obj) }).toEqual({ object: `${obj.kind}/${obj.metadata.name}`, issues: [] });
      }
    }
  });
});

describe('labels, namespaces and revisions', () => {
  it.each(PROTOCOLS)('%s: every object of a side has its labels, its gateway namespace and its current revision', (protocol) => {
    const spec = customSpec(protocol, 'networking.istio.io/v1');
    const sides = [
      { side: 'client' as const, namespace: 'egress-ns', objects: [...renderClientObjects(spec), renderCredentialSecret(spec, 'client', credential(), 'src@1')] },
      { side: 'server' as const, namespace: 'ingress-ns', objects: [...renderServerObjects(spec), renderCredentialSecret(spec, 'server', credential(), 'src@1')] },
    ];
    for (const { side, namespace, objects } of sides) {
      for (const obj of objects) {
        expect(obj.metadata.labels).toEqual(objectLabels('orders-db', side));
        expect(obj.metadata.namespace).toBe(namespace);
        expect(obj.metadata.annotations?.[ANNOTATION_REVISION]).toMatch(/^[0-9a-f]{16}$/);
        expect(obj.metadata.annotations?.[ANNOTATION_REVISION]).toBe(revisionOf(obj));
      }
    }
  });
});

describe('client side (egress)', () => {
  const routeCases = PROTOCOLS.map((protocol) => ({
    protocol,
    routes: protocol === 'TCP' ? 'tcp' : 'http',
    other: protocol === 'TCP' ? 'http' : 'tcp',
    serverProtocol: protocol === 'TCP' ? 'TLS' : 'HTTPS',
    appPort: protocol === 'TCP' ? { name: 'tcp', protocol: 'TCP' } : { name: 'http', protocol: 'HTTP' },
    gwPort: protocol === 'TCP' ? { name: 'tls', protocol: 'TLS' } : { name: 'https', protocol: 'HTTPS' },
  }));

  it.each(routeCases)('$protocol: egress Gateway listens on the egress port with ISTIO_MUTUAL for the host', ({ protocol, serverProtocol }) => {
    const spec = customSpec(protocol, 'networking.istio.io/v1beta1');
    const gw = find(renderClientObjects(spec), 'Gateway', objectNames('orders-db').egressGateway);
    expect(gw.spec).toEqual({
      selector: { app: 'egress', tier: 'edge' },
      servers: [{ port: { number: 16443, name: 'tls-orders-db', protocol: serverProtocol }, hosts: ['orders.link.example.com'], tls: { mode: 'ISTIO_MUTUAL' } }],
    });
  });

  it.each(routeCases)('$protocol: ServiceEntry declares the app port and the gateway port', ({ protocol, appPort, gwPort }) => {
    const spec = customSpec(protocol, 'networking.istio.io/v1beta1');
    const se = find(renderClientObjects(spec), 'ServiceEntry', objectNames('orders-db').serviceEntry);
    expect(se.spec.hosts).toEqual(['orders.link.example.com']);
    expect(se.spec.location).toBe('MESH_EXTERNAL');
    expect(se.spec.ports).toEqual([
      { number: 5432, ...appPort },
      { number: 25432, ...gwPort },
    ]);
  });

  it.each([
    { label: 'no address: DNS on the host', address: undefined, resolution: 'DNS', endpoint: 'orders.link.example.com' },
    { label: 'empty address: DNS on the host', address: '', resolution: 'DNS', endpoint: 'orders.link.example.com' },
    { label: 'IPv4 address: STATIC on the IP', address: '198.51.100.20', resolution: 'STATIC', endpoint: '198.51.100.20' },
    { label: 'IPv6 address: STATIC on the IP', address: '2001:db8::20', resolution: 'STATIC', endpoint: '2001:db8::20' },
    { label: 'hostname: DNS on that name', address: 'abc.elb.example.net', resolution: 'DNS', endpoint: 'abc.elb.example.net' },
  ])('ServiceEntry endpoint, $label; hosts stay the link host', ({ address, resolution, endpoint }) => {
    const spec = customSpec('TCP', 'networking.istio.io/v1');
    const se = find(renderClientObjects(spec, { address }), 'ServiceEntry', objectNames('orders-db').serviceEntry);
    expect(se.spec.hosts).toEqual(['orders.link.example.com']);
    expect(se.spec.resolution).toBe(resolution);
    expect(se.spec.endpoints).toEqual([{ address: endpoint, ports: { tls: 25432 } }]);
  });

  it.each(routeCases)('$protocol: VirtualService sends mesh traffic to the egress subset, then the egress gateway to the ingress port', ({ protocol, routes, other }) => {
    const spec = customSpec(protocol, 'networking.istio.io/v1');
    const names = objectNames('orders-db');
    const vs = find(renderClientObjects(spec), 'VirtualService', names.egressVirtualService);
    expect(vs.spec.hosts).toEqual(['orders.link.example.com']);
    expect(vs.spec.gateways).toEqual([names.egressGateway, 'mesh']);
    expect(vs.spec[other]).toBeUndefined();
    expect(vs.spec[routes]).toEqual([
      {
        match: [{ gateways: ['mesh'], port: 5432 }],
        route: [{ destination: { host: 'egress-gw.egress-ns.svc.cluster.local', subset: 'orders-db', port: { number: 16443 } } }],
      },
      {
        match: [{ gateways: [names.egressGateway], port: 16443 }],
        route: [{ destination: { host: 'orders.link.example.com', port: { number: 25432 } } }],
      },
    ]);
  });

  it.each(PROTOCOLS)('%s: egress DestinationRule gives the subset ISTIO_MUTUAL with the host as SNI', (protocol) => {
    const spec = customSpec(protocol, 'networking.istio.io/v1');
    const dr = find(renderClientObjects(spec), 'DestinationRule', objectNames('orders-db').egressDestinationRule);
    expect(dr.spec).toEqual({
      host: 'egress-gw.egress-ns.svc.cluster.local',
      subsets: [
        {
          name: 'orders-db',
          trafficPolicy: { portLevelSettings: [{ port: { number: 16443 }, tls: { mode: 'ISTIO_MUTUAL', sni: 'orders.link.example.com' } }] },
        },
      ],
    });
  });

  it.each(PROTOCOLS)('%s: originating DestinationRule uses the client credential and pins the server identity', (protocol) => {
    const spec = customSpec(protocol, 'networking.istio.io/v1');
    const dr = find(renderClientObjects(spec), 'DestinationRule', objectNames('orders-db').originateDestinationRule);
    expect(dr.spec).toEqual({
      host: 'orders.link.example.com',
      trafficPolicy: {
        portLevelSettings: [
          {
            port: { number: 25432 },
            tls: {
              mode: 'MUTUAL',
              credentialName: credentialName('orders-db', 'client'),
              sni: 'orders.link.example.com',
              subjectAltNames: [sideIdentity('orders.link.example.com', 'orders-db', 'server')],
            },
          },
        ],
      },
    });
  });

  it('defaults follow the anatomy: istio-system, istio: egressgateway, 15443, host = 13306', () => {
    const objects = renderClientObjects(linkSpec());
    const vs = find(objects, 'VirtualService', 'mysql-through-egress');
    expect(find(objects, 'Gateway', objectNames('mysql').egressGateway).spec.selector).toEqual({ istio: 'egressgateway' });
    expect(vs.spec.tcp[0].route[0].destination).toEqual({ host: 'istio-egressgateway.istio-system.svc.cluster.local', subset: 'mysql', port: { number: 15443 } });
    expect(vs.spec.tcp[1].route[0].destination).toEqual({ host: 'mysql.link.example.com', port: { number: 13306 } });
    expect(objects.every((o) => o.metadata.namespace === 'istio-system')).toBe(true);
  });

  it.each([
    // parseLinkSpec already refuses this; the renderer guards specs built by other means.
    { label: 'client port equal to the gateway port', spec: () => ({ ...linkSpec({}), client: { ...linkSpec({}).client, port: 13306 } }), address: undefined, path: 'server.gatewayPort' },
    { label: 'an address that is neither IP nor DNS name', spec: () => linkSpec({}), address: 'not an address!', path: 'server.address' },
  ])('rejects $label with invalid-argument', ({ spec: build, address, path }) => {
    const spec = build();
    let caught: unknown;
    try {
      renderClientObjects(spec, { address });
    } catch (err) {
      caught = err;
    }
    expect(isMeshlinkError(caught, 'invalid-argument')).toBe(true);
    expect((caught as { details: { path: string }[] }).details.map((d) => d.path)).toEqual([path]);
  });
});

describe('server side (ingress)', () => {
  it.each([
    { protocol: 'TCP' as const, serverProtocol: 'TLS', routes: 'tcp', minProtocolVersion: 'TLSV1_2' as const },
    { protocol: 'HTTP' as const, serverProtocol: 'HTTPS', routes: 'http', minProtocolVersion: 'TLSV1_3' as const },
  ])('$protocol: ingress Gateway terminates MUTUAL with the server credential and pins the client', ({ protocol, serverProtocol, minProtocolVersion }) => {
    const spec = linkSpec({ protocol, tls: { minProtocolVersion }, server: { gateway: { namespace: 'ingress-ns', selector: { app: 'ingress' } } } });
    const gw = find(renderServerObjects(spec), 'Gateway', objectNames('mysql').ingressGateway);
    expect(gw.spec).toEqual({
      selector: { app: 'ingress' },
      servers: [
        {
          port: { number: 13306, name: objectNames('mysql').ingressServicePort, protocol: serverProtocol },
          hosts: ['mysql.link.example.com'],
          tls: {
            mode: 'MUTUAL',
            credentialName: credentialName('mysql', 'server'),
            minProtocolVersion,
            subjectAltNames: [sideIdentity('mysql.link.example.com', 'mysql', 'client')],
          },
        },
      ],
    });
  });

  it.each([
    { protocol: 'TCP' as const, routes: 'tcp', other: 'http' },
    { protocol: 'HTTP' as const, routes: 'http', other: 'tcp' },
  ])('$protocol: ingress VirtualService routes the gateway port to the in-cluster service', ({ protocol, routes, other }) => {
    const spec = customSpec(protocol, 'networking.istio.io/v1');
    const vs = find(renderServerObjects(spec), 'VirtualService', objectNames('orders-db').ingressVirtualService);
    expect(vs.spec.hosts).toEqual(['orders.link.example.com']);
    expect(vs.spec.gateways).toEqual([objectNames('orders-db').ingressGateway]);
    expect(vs.spec[other]).toBeUndefined();
    expect(vs.spec[routes]).toEqual([
      { match: [{ port: 25432 }], route: [{ destination: { host: 'postgres.db.svc.cluster.local', port: { number: 5432 } } }] },
    ]);
  });
});

describe('names', () => {
  it('are the deterministic names of the link, and two links share none', () => {
    const names = (link: string) => {
      const spec = linkSpec({ name: link, host: `${link}.link.example.com` });
      return [...renderClientObjects(spec), ...renderServerObjects(spec)].map((o) => `${o.metadata.namespace}/${o.kind}/${o.metadata.name}`);
    };
    const n = objectNames('mysql');
    expect(names('mysql')).toEqual([
      `istio-system/Gateway/${n.egressGateway}`,
      `istio-system/ServiceEntry/${n.serviceEntry}`,
      `istio-system/VirtualService/${n.egressVirtualService}`,
      `istio-system/DestinationRule/${n.egressDestinationRule}`,
      `istio-system/DestinationRule/${n.originateDestinationRule}`,
      `istio-system/Gateway/${n.ingressGateway}`,
      `istio-system/VirtualService/${n.ingressVirtualService}`,
    ]);
    const other = new Set(names('redis'));
    expect(names('mysql').filter((x) => other.has(x))).toEqual([]);
  });
});

describe('determinism', () => {
  const render = (spec: LinkSpec) => [...renderClientObjects(spec, { address: '203.0.113.7' }), ...renderServerObjects(spec)];
  const revisions = (objects: KubeObject[]) => Object.fromEntries(objects.map((o) => [`${o.kind}/${o.metadata.name}`, o.metadata.annotations?.[ANNOTATION_REVISION]]));

  it.each(PROTOCOLS)('%s: rendering twice gives byte-identical objects', (protocol) => {
    const first = render(customSpec(protocol, 'networking.istio.io/v1'));
    const second = render(customSpec(protocol, 'networking.istio.io/v1'));
    expect(second).toEqual(first);
    expect(JSON.stringify(second)).toBe(JSON.stringify(first));
  });

  it('selector key order in the spec does not change the bytes', () => {
    const a = renderClientObjects(linkSpec({ client: { gateway: { selector: { app: 'egress', tier: 'edge' } } } }));
    const b = renderClientObjects(linkSpec({ client: { gateway: { selector: { tier: 'edge', app: 'egress' } } } }));
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });

  it.each([
    {
      label: 'server.port changes only the ingress VirtualService',
      change: { server: { port: 3307, gatewayPort: 13306 } },
      changed: ['VirtualService/mysql-ingress'],
    },
    {
      label: 'server.gatewayPort changes every object that names it',
      change: { server: { gatewayPort: 14306 } },
      changed: ['ServiceEntry/mysql-external', 'VirtualService/mysql-through-egress', 'DestinationRule/originate-mtls-for-mysql', 'Gateway/mysql-ingress', 'VirtualService/mysql-ingress'],
    },
    {
      label: 'client.egressPort changes the egress objects',
      change: { client: { egressPort: 16443 } },
      changed: ['Gateway/mysql-egress', 'VirtualService/mysql-through-egress', 'DestinationRule/egressgateway-for-mysql'],
    },
    {
      label: 'tls.minProtocolVersion changes only the ingress Gateway',
      change: { tls: { minProtocolVersion: 'TLSV1_2' as const } },
      changed: ['Gateway/mysql-ingress'],
    },
  ])('$label', ({ change, changed }) => {
    const before = revisions(render(linkSpec({ server: { gatewayPort: 13306 } })));
    const changeServer = (change as { server?: object }).server;
    const after = revisions(render(linkSpec({ ...change, server: { gatewayPort: 13306, ...changeServer } })));
    const differing = Object.keys(before).filter((k) => before[k] !== after[k]);
    expect(differing.sort()).toEqual([...changed].sort());
  });
});

describe('gateway Service ports', () => {
  it.each([
    {
      side: 'server' as const,
      expected: { namespace: 'ingress-ns', name: 'ingress-gw', ports: [{ name: objectNames('orders-db').ingressServicePort, port: 25432, targetPort: 25432, protocol: 'TCP' }], own: [objectNames('orders-db').ingressServicePort] },
    },
    // The egress port is shared: never the link's own.
    { side: 'client' as const, expected: { namespace: 'egress-ns', name: 'egress-gw', ports: [{ name: egressServicePortName(16443), port: 16443, targetPort: 16443, protocol: 'TCP' }], own: [] } },
  ])('$side: the port its gateway Service must expose', ({ side, expected }) => {
    expect(gatewayServicePorts(customSpec('TCP', 'networking.istio.io/v1'), side)).toEqual(expected);
  });

  it('links sharing an egress port ask for the same egress Service port', () => {
    const a = gatewayServicePorts(linkSpec({ name: 'a', host: 'a.link.example.com' }), 'client');
    const b = gatewayServicePorts(linkSpec({ name: 'b', host: 'b.link.example.com' }), 'client');
    expect(b).toEqual(a);
  });
});

describe('managed kinds', () => {
  it.each(VERSIONS)('%s: cover every kind rendered, with the CRD plural', (apiVersion) => {
    const kinds = managedKinds(apiVersion);
    const spec = linkSpec({ istioApiVersion: apiVersion });
    const rendered = [
      ...renderClientObjects(spec),
      ...renderServerObjects(spec),
      renderCredentialSecret(spec, 'client', credential(), 'src@1'),
    ];
    for (const obj of rendered) {
      expect(kinds.filter((k) => k.apiVersion === obj.apiVersion && k.kind === obj.kind)).toHaveLength(1);
    }
    for (const k of kinds.filter((k) => k.apiVersion === apiVersion)) {
      expect(k.plural).toBe(crd.plural(k.apiVersion, k.kind));
    }
    expect(kinds.find((k) => k.kind === 'Secret')).toEqual({ apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true });
  });
});
