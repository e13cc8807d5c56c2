// Builders of a link's cluster objects (hand-made: the mesh renderer is built elsewhere).
import { ANNOTATION_REVISION, credentialName, LABEL_LINK, objectLabels, objectNames, type Side } from '../../shared/link/names.js';
import type { KubeObject, ObjectKind } from '../../shared/clusters/port.js';

export const ISTIO_API = 'networking.istio.io/v1beta1';

export const KINDS: Record<'gateway' | 'destinationRule' | 'secret', ObjectKind> = {
  gateway: { apiVersion: ISTIO_API, kind: 'Gateway', plural: 'gateways', namespaced: true },
  destinationRule: { apiVersion: ISTIO_API, kind: 'DestinationRule', plural: 'destinationrules', namespaced: true },
  secret: { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
};

function meta(name: string, namespace: string, link: string, side: Side, revision: string) {
  return { name, namespace, labels: objectLabels(link, side), annotations: { [ANNOTATION_REVISION]: revision } };
}

export function ingressGateway(link: string, revision = 'r1', port = 15443): KubeObject {
  return {
    apiVersion: ISTIO_API,
    kind: 'Gateway',
    metadata: meta(objectNames(link).ingressGateway, 'istio-system', link, 'server', revision),
    spec: {
      selector: { istio: 'ingressgateway' },
      servers: [{ port: { number: port, name: `tls-${link}`, protocol: 'TLS' }, hosts: [`${link}.example.com`], tls: { mode: 'MUTUAL', credentialName: credentialName(link, 'server') } }],
    },
  };
}

export function originateDestinationRule(link: string, revision = 'r1'): KubeObject {
  return {
    apiVersion: ISTIO_API,
    kind: 'DestinationRule',
    metadata: meta(objectNames(link).originateDestinationRule, 'istio-system', link, 'client', revision),
    spec: {
      host: `${link}.example.com`,
      trafficPolicy: { tls: { mode: 'MUTUAL', credentialName: credentialName(link, 'client'), sni: `${link}.example.com` } },
    },
  };
}

/** A Secret with placeholder (non-key) bytes: these tests move objects, not certificates. */
export function credentialSecret(link: string, side: Side, revision = 'r1'): KubeObject {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta(credentialName(link, side), 'istio-system', link, side, revision),
    type: 'Opaque',
    data: { 'tls.crt': b64(`cert of ${link} ${revision}`), 'tls.key': b64(`placeholder ${revision}`), 'ca.crt': b64('ca') },
  };
}

export function linkObjects(link: string, revision = 'r1'): KubeObject[] {
  return [ingressGateway(link, revision), originateDestinationRule(link, revision), credentialSecret(link, 'server', revision)];
}

/** The same objects in another namespace (a link whose gateway namespace changed). */
export function inNamespace(objects: KubeObject[], namespace: string): KubeObject[] {
  return objects.map((o) => ({ ...o, metadata: { ...o.metadata, namespace } }));
}

/** The object as another link's (its `meshlink.io/link` label names `owner`). */
export function labelledFor(object: KubeObject, owner: string): KubeObject {
  return { ...object, metadata: { ...object.metadata, labels: { ...object.metadata.labels, [LABEL_LINK]: owner } } };
}
