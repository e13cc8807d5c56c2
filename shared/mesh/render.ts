// Renders a link spec into the Istio and Kubernetes objects of each side (link-anatomy.md), pure and deterministic.
import { MeshlinkError } from '../errors.js';
import { clusterSide, serverAddress, serverPort, type LinkSpec, type ISTIO_API_VERSIONS } from '../link/spec.js';
import type { SdsCredential } from '../pki/types.js';
import type { KubeObject, ObjectKind, ServicePort } from '../clusters/port.js';
import {
  ANNOTATION_SOURCE,
  credentialName,
  egressServicePortName,
  objectLabels,
  objectNames,
  sideIdentity,
  type Side,
} from '../link/names.js';
import { withRevision } from './revision.js';

export type IstioApiVersion = (typeof ISTIO_API_VERSIONS)[number];

/** Istio's reserved gateway name for all sidecars. */
const MESH = 'mesh';

/*
 * Namespace of every object: the side's gateway namespace (spec.<side>.gateway.namespace).
 * - The credential Secret must live in the gateway pod's namespace; Istio denies cross-namespace
 *   credentialName references (pilot/pkg/credentials/kube/secrets.go).
 * - The VirtualService names its Gateway by short name, which resolves in its own namespace.
 * - Sidecars look up a DestinationRule in their own namespace, then in the destination Service's
 *   namespace, then the root namespace: `egressgateway-for-<link>` sits beside the egress gateway
 *   Service, so every sidecar finds it; `originate-mtls-for-<link>` is found by the egress gateway
 *   pods because they run there.
 * - Egress configuration in the gateway namespace is what the seeds prescribe: that namespace is
 *   owned by the network/security team, and RBAC keeps application teams out of it.
 */

/*
 * Protocols. TCP links follow the anatomy: TLS servers and `tcp` routes. HTTP links follow Istio's
 * mutual-TLS-origination-with-egress-gateway task and secure-ingress (mutual TLS) task:
 * - the gateways' servers use protocol HTTPS (tls modes unchanged: ISTIO_MUTUAL on the egress,
 *   MUTUAL on the ingress), because a TLS server only carries `tcp`/`tls` routes after terminating,
 *   while an HTTPS server terminates and then routes HTTP;
 * - both VirtualServices use `http` routes with the same matches and destinations as the TCP ones;
 * - the ServiceEntry declares the app port HTTP (sidecars parse the requests and apply the mesh
 *   route) and the gateway port HTTPS (HTTP inside the TLS the egress gateway originates);
 * - mTLS origination (DestinationRule, `sni`, pinned SAN) is the same for both protocols.
 */

interface Protocols {
  /** Protocol of the Gateway servers on both sides. */
  server: 'TLS' | 'HTTPS';
  /** Protocol and port name of the ServiceEntry's app port and gateway port. */
  appPort: { name: string; protocol: 'TCP' | 'HTTP' };
  gatewayPort: { name: string; protocol: 'TLS' | 'HTTPS' };
  /** VirtualService route list: `tcp` or `http`. */
  routes: 'tcp' | 'http';
}

function protocolsOf(spec: LinkSpec): Protocols {
  return spec.protocol === 'HTTP'
    ? { server: 'HTTPS', appPort: { name: 'http', protocol: 'HTTP' }, gatewayPort: { name: 'https', protocol: 'HTTPS' }, routes: 'http' }
    : { server: 'TLS', appPort: { name: 'tcp', protocol: 'TCP' }, gatewayPort: { name: 'tls', protocol: 'TLS' }, routes: 'tcp' };
}

/** The egress gateway's in-cluster host; assumes the default cluster domain `cluster.local`. */
function egressGatewayHost(spec: LinkSpec): string {
  const { gateway } = clusterSide(spec, 'client');
  return `${gateway.service}.${gateway.namespace}.svc.cluster.local`;
}

/** A copy with sorted keys: the same selector yields the same bytes whatever order the user wrote. */
function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Gateway server port name, `tls-<link>` on both sides: unique per link where several links share
 * one gateway port, and equal to the name of the ingress Service port that carries it.
 */
function serverPortName(link: string): string {
  return objectNames(link).ingressServicePort;
}

function metadata(spec: LinkSpec, side: Side, name: string) {
  return { name, namespace: clusterSide(spec, side).gateway.namespace, labels: objectLabels(spec.name, side) };
}

function istioObject(spec: LinkSpec, side: Side, kind: string, name: string, body: Record<string, unknown>): KubeObject {
  return withRevision({ apiVersion: spec.istioApiVersion, kind, metadata: metadata(spec, side, name), spec: body });
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-f]*:[0-9a-f:.]*$/i;
const FQDN = /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z]([-a-z0-9]{0,61}[a-z0-9])?\.?$/;

/**
 * Where the egress gateway sends the link's traffic. No address: `DNS` on the host itself (it must
 * resolve to the ingress). An IP (the ingress load balancer's): `STATIC`, so the host need not resolve.
 * A DNS name (a load balancer hostname): `DNS` on that name. Either way `hosts`, SNI and certificates
 * stay the link's host.
 */
function serviceEntryEndpoint(spec: LinkSpec, address: string | undefined): { resolution: 'DNS' | 'STATIC'; address: string } {
  if (address === undefined || address === '') return { resolution: 'DNS', address: spec.host };
  if (IPV4.test(address) || IPV6.test(address)) return { resolution: 'STATIC', address };
  if (FQDN.test(address)) return { resolution: 'DNS', address };
  throw new MeshlinkError('invalid-argument', `ingress address ${JSON.stringify(address)} is neither an IP address nor a DNS name`, {
    details: [{ path: 'server.address', message: 'must be an IP address or a DNS name' }],
  });
}

/** The egress side (client cluster): Gateway, ServiceEntry, VirtualService and two DestinationRules. */
export function renderClientObjects(spec: LinkSpec, opts: { address?: string } = {}): KubeObject[] {
  const link = spec.name;
  const names = objectNames(link);
  const p = protocolsOf(spec);
  const egressHost = egressGatewayHost(spec);
  const client = clusterSide(spec, 'client');
  const appPort = client.port;
  const egressPort = client.egressPort;
  // Our ingress gateway's port, or the port of the server the partner runs.
  const gatewayPort = serverPort(spec);
  const partner = 'external' in spec.server ? spec.server.external : undefined;
  if (appPort === gatewayPort) {
    // The ServiceEntry needs two ports (plain for sidecars, TLS for the egress gateway); Istio rejects duplicates.
    throw new MeshlinkError('invalid-argument', 'client.port must differ from server.gatewayPort', {
      details: [{ path: 'server.gatewayPort', message: 'must differ from client.port' }],
    });
  }
  const endpoint = serviceEntryEndpoint(spec, partner ? partner.address : opts.address);

  const gateway = istioObject(spec, 'client', 'Gateway', names.egressGateway, {
    selector: sortedRecord(client.gateway.selector),
    servers: [
      {
        port: { number: egressPort, name: serverPortName(link), protocol: p.server },
        hosts: [spec.host],
        // Sidecar -> egress gateway: mesh certificates.
        tls: { mode: 'ISTIO_MUTUAL' },
      },
    ],
  });

  const serviceEntry = istioObject(spec, 'client', 'ServiceEntry', names.serviceEntry, {
    hosts: [spec.host],
    location: 'MESH_EXTERNAL',
    ports: [
      { number: appPort, name: p.appPort.name, protocol: p.appPort.protocol },
      { number: gatewayPort, name: p.gatewayPort.name, protocol: p.gatewayPort.protocol },
    ],
    resolution: endpoint.resolution,
    endpoints: [{ address: endpoint.address, ports: { [p.gatewayPort.name]: gatewayPort } }],
  });

  const virtualService = istioObject(spec, 'client', 'VirtualService', names.egressVirtualService, {
    hosts: [spec.host],
    gateways: [names.egressGateway, MESH],
    [p.routes]: [
      {
        match: [{ gateways: [MESH], port: appPort }],
        route: [{ destination: { host: egressHost, subset: names.egressSubset, port: { number: egressPort } } }],
      },
      {
        match: [{ gateways: [names.egressGateway], port: egressPort }],
        route: [{ destination: { host: spec.host, port: { number: gatewayPort } } }],
      },
    ],
  });

  const egressDestinationRule = istioObject(spec, 'client', 'DestinationRule', names.egressDestinationRule, {
    host: egressHost,
    subsets: [
      {
        name: names.egressSubset,
        trafficPolicy: {
          // The SNI selects this link's server on the shared egress port.
          portLevelSettings: [{ port: { number: egressPort }, tls: { mode: 'ISTIO_MUTUAL', sni: spec.host } }],
        },
      },
    ],
  });

  const originateDestinationRule = istioObject(spec, 'client', 'DestinationRule', names.originateDestinationRule, {
    host: spec.host,
    trafficPolicy: {
      portLevelSettings: [
        {
          port: { number: gatewayPort },
          tls: {
            // Egress gateway -> server ingress gateway: link certificates, read through SDS.
            mode: 'MUTUAL',
            credentialName: credentialName(link, 'client'),
            // Istio fills in `sni` only for HTTP; the ingress Gateway matches servers on it.
            sni: spec.host,
            // Pin the server's identity: any certificate of the link CA (or the partner's CA) is not enough.
            subjectAltNames: partner ? [...partner.subjectAltNames] : [sideIdentity(spec.host, link, 'server')],
          },
        },
      ],
    },
  });

  return [gateway, serviceEntry, virtualService, egressDestinationRule, originateDestinationRule];
}

/** The ingress side (server cluster): Gateway and VirtualService. */
export function renderServerObjects(spec: LinkSpec): KubeObject[] {
  const link = spec.name;
  const names = objectNames(link);
  const p = protocolsOf(spec);
  const server = clusterSide(spec, 'server');
  const gatewayPort = server.gatewayPort;
  const partner = 'external' in spec.client ? spec.client.external : undefined;

  const gateway = istioObject(spec, 'server', 'Gateway', names.ingressGateway, {
    selector: sortedRecord(server.gateway.selector),
    servers: [
      {
        port: { number: gatewayPort, name: serverPortName(link), protocol: p.server },
        hosts: [spec.host],
        tls: {
          mode: 'MUTUAL',
          credentialName: credentialName(link, 'server'),
          minProtocolVersion: spec.tls.minProtocolVersion,
          // Pin the client's identity: any certificate of the link CA (or the partner's CA) is not enough.
          subjectAltNames: partner ? [...partner.subjectAltNames] : [sideIdentity(spec.host, link, 'client')],
        },
      },
    ],
  });

  const virtualService = istioObject(spec, 'server', 'VirtualService', names.ingressVirtualService, {
    hosts: [spec.host],
    gateways: [names.ingressGateway],
    [p.routes]: [
      {
        match: [{ port: gatewayPort }],
        route: [{ destination: { host: server.service, port: { number: server.port } } }],
      },
    ],
  });

  return [gateway, virtualService];
}

/** The Istio objects of one side; the client's ServiceEntry points at `address` (see serviceEntryEndpoint). */
export function renderSideObjects(spec: LinkSpec, side: Side, address?: string): KubeObject[] {
  return side === 'server' ? renderServerObjects(spec) : renderClientObjects(spec, address === undefined ? {} : { address });
}

/**
 * Kind, name, namespace and labels of every object a side holds (its credential Secret first), for
 * what needs no credential: the check that no other link owns one of the names (app/name-ownership.ts).
 */
export function sideObjectHeads(spec: LinkSpec, side: Side): KubeObject[] {
  const secret: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: metadata(spec, side, credentialName(spec.name, side)) };
  return [secret, ...renderSideObjects(spec, side, serverAddress(spec))].map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, metadata: o.metadata }));
}

/** The PEM text of each SDS key, base64-encoded as a Secret's `data` wants it. */
function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/**
 * A side's credential Secret, read by its gateway through SDS (credentialName). All three keys
 * in one object, so they are written in one request: separate writes have produced mismatched
 * pairs. `data`, not `stringData`: the API never returns `stringData`, so a read-back compares.
 * Type `kubernetes.io/tls`: Istio ignores the type, our credential always has `tls.crt` and
 * `tls.key` (which that type requires), and tools display it as a certificate.
 */
export function renderCredentialSecret(spec: LinkSpec, side: Side, credential: SdsCredential, source: string): KubeObject {
  if (source === '') throw new MeshlinkError('internal', 'a credential Secret needs a source (store secret and version)');
  const meta = metadata(spec, side, credentialName(spec.name, side));
  return withRevision({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { ...meta, annotations: { [ANNOTATION_SOURCE]: source } },
    type: 'kubernetes.io/tls',
    data: {
      'ca.crt': base64(credential['ca.crt']),
      'tls.crt': base64(credential['tls.crt']),
      'tls.key': base64(credential['tls.key']),
    },
  });
}

/**
 * The ports a side's gateway Service must expose for this link (the default Services expose
 * neither GW_PORT on the ingress nor 15443 on the egress since Istio 1.10). The egress port's
 * name depends only on the port number, because links that share an egress port share it.
 * `own` names the link's own port (the ingress one): found with another number, it moved.
 */
export function gatewayServicePorts(spec: LinkSpec, side: Side): { namespace: string; name: string; ports: ServicePort[]; own: string[] } {
  const { gateway } = clusterSide(spec, side);
  const port =
    side === 'server'
      ? { name: objectNames(spec.name).ingressServicePort, number: clusterSide(spec, 'server').gatewayPort }
      : { name: egressServicePortName(clusterSide(spec, 'client').egressPort), number: clusterSide(spec, 'client').egressPort };
  return {
    namespace: gateway.namespace,
    name: gateway.service,
    ports: [{ name: port.name, port: port.number, targetPort: port.number, protocol: 'TCP' }],
    own: side === 'server' ? [port.name] : [],
  };
}

/** Every kind meshlink applies, for delete-by-label. */
export function managedKinds(apiVersion: IstioApiVersion): ObjectKind[] {
  return [
    { apiVersion, kind: 'Gateway', plural: 'gateways', namespaced: true },
    { apiVersion, kind: 'ServiceEntry', plural: 'serviceentries', namespaced: true },
    { apiVersion, kind: 'VirtualService', plural: 'virtualservices', namespaced: true },
    { apiVersion, kind: 'DestinationRule', plural: 'destinationrules', namespaced: true },
    { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  ];
}
