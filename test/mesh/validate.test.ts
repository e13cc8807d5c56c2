// The validators can fail: broken objects are reported, by the CRD file's schemas and by validateIstioObject.
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../shared/clusters/port.js';
import { objectNames } from '../../shared/link/names.js';
import { renderClientObjects, renderServerObjects } from '../../shared/mesh/render.js';
import { validateIstioObject } from '../support/istio-models.js';
import { linkSpec } from './builders.js';
import { loadCrdValidator } from './crd-schemas.js';

const crd = loadCrdValidator();
const names = objectNames('mysql');
const VERSIONS = ['networking.istio.io/v1beta1', 'networking.istio.io/v1'] as const;

function rendered(apiVersion: (typeof VERSIONS)[number], kind: string, name: string): KubeObject & { spec: any } {
  const spec = linkSpec({ istioApiVersion: apiVersion });
  const obj = [...renderClientObjects(spec), ...renderServerObjects(spec)].find((o) => o.kind === kind && o.metadata.name === name);
  if (obj === undefined) throw new Error(`no ${kind} ${name}`);
  return structuredClone(obj) as KubeObject & { spec: any };
}

/** `models`: whether @kubernetes-models catches it too (it checks neither unknown fields nor CEL rules). */
const BROKEN = [
  { label: 'a misspelt tls mode', kind: 'Gateway', name: names.ingressGateway, path: 'spec.servers.0.tls.mode', models: true, breakIt: (s: any) => (s.servers[0].tls.mode = 'MUTUALL') },
  { label: 'a port number given as text', kind: 'Gateway', name: names.egressGateway, path: 'spec.servers.0.port.number', models: true, breakIt: (s: any) => (s.servers[0].port.number = '15443') },
  { label: 'a server port without a name', kind: 'Gateway', name: names.ingressGateway, path: 'spec.servers.0.port.name', models: true, breakIt: (s: any) => delete s.servers[0].port.name },
  { label: 'a route destination without a host', kind: 'VirtualService', name: names.ingressVirtualService, path: 'spec.tcp.0.route.0.destination.host', models: true, breakIt: (s: any) => delete s.tcp[0].route[0].destination.host },
  { label: 'an unknown resolution', kind: 'ServiceEntry', name: names.serviceEntry, path: 'spec.resolution', models: true, breakIt: (s: any) => (s.resolution = 'DNS_ONLY') },
  { label: 'a misspelt field deep inside', kind: 'DestinationRule', name: names.originateDestinationRule, path: 'spec.trafficPolicy.portLevelSettings.0.tls.credentialNme', models: false, breakIt: (s: any) => (s.trafficPolicy.portLevelSettings[0].tls.credentialNme = 'x') },
  { label: 'an unknown top-level spec field', kind: 'VirtualService', name: names.egressVirtualService, path: 'spec.routes', models: false, breakIt: (s: any) => (s.routes = []) },
  { label: 'duplicate ServiceEntry port numbers (CEL)', kind: 'ServiceEntry', name: names.serviceEntry, path: 'spec.ports', models: false, breakIt: (s: any) => (s.ports[1].number = s.ports[0].number) },
  { label: 'endpoints with resolution NONE (CEL)', kind: 'ServiceEntry', name: names.serviceEntry, path: 'spec', models: false, breakIt: (s: any) => (s.resolution = 'NONE') },
  { label: 'a ServiceEntry port 0 (CEL)', kind: 'ServiceEntry', name: names.serviceEntry, path: 'spec.ports.0.number', models: false, breakIt: (s: any) => (s.ports[0].number = 0) },
  { label: 'a connect timeout under 1ms (CEL)', kind: 'DestinationRule', name: names.egressDestinationRule, path: 'spec.trafficPolicy.connectionPool.tcp.connectTimeout', models: false, breakIt: (s: any) => (s.trafficPolicy = { connectionPool: { tcp: { connectTimeout: '500us' } } }) },
];

describe('broken objects are reported', () => {
  const cases = VERSIONS.flatMap((apiVersion) => BROKEN.map((b) => ({ apiVersion, ...b })));

  it.each(cases)('$apiVersion: $label at $path', ({ apiVersion, kind, name, path, models, breakIt }) => {
    const obj = rendered(apiVersion, kind, name);
    expect(crd.validate(obj)).toEqual([]);
    breakIt(obj.spec);
    expect(crd.validate(obj).map((i) => i.path)).toContain(path);
    const fromModels = validateIstioObject(obj).map((i) => i.path);
    if (models) expect(fromModels).toContain(path);
    else expect(fromModels).toEqual([]);
  });

  it('a valid duration passes the CEL duration rule', () => {
    const obj = rendered('networking.istio.io/v1', 'DestinationRule', names.egressDestinationRule);
    obj.spec.trafficPolicy = { connectionPool: { tcp: { connectTimeout: '1m30.5s' } } };
    expect(crd.validate(obj)).toEqual([]);
  });

  it.each([
    { label: 'an unserved API version', mutate: (o: KubeObject) => ({ ...o, apiVersion: 'networking.istio.io/v2' }), path: 'apiVersion' },
    { label: 'an unknown top-level field', mutate: (o: KubeObject) => ({ ...o, extra: 1 }), path: 'extra' },
    { label: 'a missing namespace', mutate: (o: KubeObject) => ({ ...o, metadata: { name: o.metadata.name } }), path: 'metadata.namespace' },
  ])('the CRD validator reports $label', ({ mutate, path }) => {
    const obj = mutate(rendered('networking.istio.io/v1', 'Gateway', names.ingressGateway));
    expect(crd.validate(obj).map((i) => i.path)).toEqual([path]);
  });

  it.each([
    { label: 'a kind meshlink does not render', mutate: (o: KubeObject) => ({ ...o, kind: 'Sidecar' }), path: 'kind' },
    { label: 'an API version meshlink does not render', mutate: (o: KubeObject) => ({ ...o, apiVersion: 'networking.istio.io/v1alpha3' }), path: 'kind' },
    { label: 'a name that is no DNS name', mutate: (o: KubeObject) => ({ ...o, metadata: { ...o.metadata, name: 'Bad_Name' } }), path: 'metadata.name' },
    { label: 'a namespace that is no DNS label', mutate: (o: KubeObject) => ({ ...o, metadata: { ...o.metadata, namespace: 'a.b' } }), path: 'metadata.namespace' },
  ])('validateIstioObject reports $label', ({ mutate, path }) => {
    const obj = mutate(rendered('networking.istio.io/v1', 'Gateway', names.ingressGateway));
    expect(validateIstioObject(obj).map((i) => i.path)).toEqual([path]);
  });
});
