// Which places an update leaves behind: the pure part of clearing a moved link.
import { describe, expect, it } from 'vitest';
import { parseLinkSpec } from '../../shared/link/spec.js';
import { stalePlaces, storedPlaces } from '../../shared/link/places.js';
import type { StalePlace } from '../../shared/link/state.js';
import { specInput, withField } from '../support/builders.js';

const BASE = specInput();
const spec = (changes: Record<string, unknown> = {}) => parseLinkSpec(Object.entries(changes).reduce((s, [path, value]) => withField(s, path, value), BASE));
const serverObjects = (cluster: string, namespace: string): StalePlace => ({ what: 'objects', side: 'server', cluster, namespace });
const serverPort = (cluster: string, namespace: string, service = 'istio-ingressgateway'): StalePlace => ({ what: 'port', cluster, namespace, service });

describe('stale places', () => {
  it.each<{ case: string; next: Record<string, unknown>; pending?: StalePlace[]; want: StalePlace[] }>([
    { case: 'nothing for an unchanged place', next: { 'server.port': 5432 }, want: [] },
    { case: 'nothing for a new gateway port on the same Service (moved in place)', next: { 'server.gatewayPort': 13307 }, want: [] },
    { case: 'nothing for the egress side Service or port (shared by every link)', next: { 'client.gateway.service': 'other-egress', 'client.egressPort': 16443 }, want: [] },
    { case: 'nothing for another Istio API version (the same objects)', next: { istioApiVersion: 'networking.istio.io/v1' }, want: [] },
    {
      case: 'the client objects for a client namespace',
      next: { 'client.gateway.namespace': 'egress' },
      want: [{ what: 'objects', side: 'client', cluster: 'client-cluster', namespace: 'istio-system' }],
    },
    { case: 'the server objects and port for a server cluster', next: { 'server.cluster': 'db' }, want: [serverObjects('server-cluster', 'istio-system'), serverPort('server-cluster', 'istio-system')] },
    { case: 'the port only for another ingress Service', next: { 'server.gateway.service': 'other' }, want: [serverPort('server-cluster', 'istio-system')] },
    {
      case: 'pending places first, each once',
      next: { 'server.cluster': 'db' },
      pending: [serverPort('server-cluster', 'istio-system'), serverObjects('old', 'gw')],
      want: [serverPort('server-cluster', 'istio-system'), serverObjects('old', 'gw'), serverObjects('server-cluster', 'istio-system')],
    },
    { case: 'no pending place the new spec uses again (moving back)', next: {}, pending: [serverObjects('server-cluster', 'istio-system'), serverPort('server-cluster', 'istio-system')], want: [] },
  ])('$case', ({ next, pending, want }) => {
    expect(stalePlaces(spec(), spec(next), pending)).toEqual(want); // both gateway namespaces default to istio-system
  });
});

describe('storedPlaces (a stored spec that no longer validates)', () => {
  it('gives the side a partner runs no place, as linkPlaces does: no objects there, and no port when it runs the server', () => {
    const doc = { name: 'mysql' };
    expect(storedPlaces('mysql', doc, { clientCluster: 'c', serverCluster: '', partner: { side: 'server', name: '203.0.113.9:5432' } }).places).toEqual([
      { what: 'objects', side: 'client', cluster: 'c', namespace: 'istio-system' },
    ]);
    expect(storedPlaces('mysql', doc, { clientCluster: '', serverCluster: 's', partner: { side: 'client', name: 'spiffe://partner.example/db' } }).places).toEqual([
      { what: 'objects', side: 'server', cluster: 's', namespace: 'istio-system' },
      { what: 'port', cluster: 's', namespace: 'istio-system', service: 'istio-ingressgateway' },
    ]);
  });
});
