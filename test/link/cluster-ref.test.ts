// Cluster references: parsing, directory names and Connect gateway URLs.
import { describe, expect, it } from 'vitest';
import { connectGatewayEndpoint, connectGatewayUrl, parseClusterRef, safeClusterName, type ClusterRef, type ConnectGatewayOptions } from '../../shared/link/cluster-ref.js';
import { isMeshlinkError } from '../../shared/errors.js';

describe('parseClusterRef', () => {
  it.each<{ case: string; ref: string; want: ClusterRef }>([
    { case: 'a regional GKE cluster', ref: 'projects/acme-prod/locations/europe-west1/clusters/server', want: { kind: 'gke', project: 'acme-prod', location: 'europe-west1', cluster: 'server' } },
    { case: 'a zonal GKE cluster', ref: 'projects/acme/locations/europe-west1-b/clusters/c1', want: { kind: 'gke', project: 'acme', location: 'europe-west1-b', cluster: 'c1' } },
    { case: 'a GKE cluster named with zones/ (audit logs)', ref: 'projects/acme/zones/us-central1-a/clusters/c1', want: { kind: 'gke', project: 'acme', location: 'us-central1-a', cluster: 'c1' } },
    { case: 'a global membership', ref: 'projects/123456789/locations/global/memberships/onprem', want: { kind: 'fleet', project: '123456789', location: 'global', membership: 'onprem' } },
    { case: 'a regional membership', ref: 'projects/acme/locations/us-east1/memberships/eks-1', want: { kind: 'fleet', project: 'acme', location: 'us-east1', membership: 'eks-1' } },
    { case: 'a GKE membership', ref: 'projects/42/locations/global/gkeMemberships/gke-1', want: { kind: 'fleet', project: '42', location: 'global', membership: 'gke-1', collection: 'gkeMemberships' } },
    { case: 'a kubeconfig context', ref: 'kubeconfig:kind-server', want: { kind: 'kubeconfig', context: 'kind-server' } },
    { case: 'a kubeconfig context with colons and slashes', ref: 'kubeconfig:arn:aws:eks:eu-west-1:1:cluster/x', want: { kind: 'kubeconfig', context: 'arn:aws:eks:eu-west-1:1:cluster/x' } },
    { case: 'a plain name', ref: 'server', want: { kind: 'local', name: 'server' } },
    { case: 'a name with dots', ref: 'client.example', want: { kind: 'local', name: 'client.example' } },
  ])('reads $case', ({ ref, want }) => {
    expect(parseClusterRef(ref)).toEqual(want);
  });

  it.each([
    { case: 'a cloud reference with a missing part', ref: 'projects/acme/locations/europe-west1/clusters/' },
    { case: 'an unknown collection', ref: 'projects/acme/locations/global/things/x' },
    { case: 'an empty kubeconfig context', ref: 'kubeconfig:' },
    { case: 'an empty reference', ref: '' },
  ])('refuses $case', ({ ref }) => {
    expect(() => parseClusterRef(ref)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });
});

describe('safeClusterName', () => {
  it.each([
    { ref: 'server', want: 'server' },
    { ref: 'client.example_1-a', want: 'client.example_1-a' },
    { ref: 'kubeconfig:kind-a', want: 'kubeconfig%3Akind-a' },
    { ref: 'projects/p/locations/l/clusters/c', want: 'projects%2Fp%2Flocations%2Fl%2Fclusters%2Fc' },
    { ref: 'a@b', want: 'a%40b' },
    { ref: '..', want: '%2E%2E' },
  ])('maps $ref to $want', ({ ref, want }) => {
    expect(safeClusterName(ref)).toBe(want);
    expect(decodeURIComponent(safeClusterName(ref))).toBe(ref);
  });

  it('keeps distinct references distinct', () => {
    expect(safeClusterName('a/b')).not.toBe(safeClusterName('a_b'));
  });
});

describe('connectGatewayUrl', () => {
  const fleet = (ref: string) => parseClusterRef(ref) as Extract<ClusterRef, { kind: 'fleet' }>;

  it.each<{ case: string; ref: string; options?: ConnectGatewayOptions; want: string }>([
    {
      case: 'a global membership on the global host, memberships by default',
      ref: 'projects/123/locations/global/memberships/m1',
      want: 'https://connectgateway.googleapis.com/v1/projects/123/locations/global/memberships/m1',
    },
    {
      case: 'a regional membership on the regional host',
      ref: 'projects/123/locations/us-central1/memberships/m1',
      want: 'https://us-central1-connectgateway.googleapis.com/v1/projects/123/locations/us-central1/memberships/m1',
    },
    {
      case: 'a gkeMemberships reference',
      ref: 'projects/123/locations/europe-west4/gkeMemberships/g1',
      want: 'https://europe-west4-connectgateway.googleapis.com/v1/projects/123/locations/europe-west4/gkeMemberships/g1',
    },
    {
      case: 'the configured default collection',
      ref: 'projects/123/locations/global/memberships/g1',
      options: { collection: 'gkeMemberships' },
      want: 'https://connectgateway.googleapis.com/v1/projects/123/locations/global/gkeMemberships/g1',
    },
    {
      case: 'a project id mapped to its number, v1beta1',
      ref: 'projects/acme-prod/locations/global/memberships/m1',
      options: { projectNumbers: { 'acme-prod': '987654321' }, version: 'v1beta1' },
      want: 'https://connectgateway.googleapis.com/v1beta1/projects/987654321/locations/global/memberships/m1',
    },
    {
      case: 'the paths under a configured endpoint, whatever the location',
      ref: 'projects/123/locations/us-central1/memberships/m1',
      options: { endpoint: 'https://connectgateway-psc.p.example.internal:8443' },
      want: 'https://connectgateway-psc.p.example.internal:8443/v1/projects/123/locations/us-central1/memberships/m1',
    },
    {
      case: 'the paths after an endpoint path, trailing slash dropped',
      ref: 'projects/123/locations/global/memberships/m1',
      options: { endpoint: 'https://127.0.0.1:9443/gw/' },
      want: 'https://127.0.0.1:9443/gw/v1/projects/123/locations/global/memberships/m1',
    },
  ])('builds $case', ({ ref, options, want }) => {
    expect(connectGatewayUrl(fleet(ref), options)).toBe(want);
  });

  it.each([
    { case: 'plain http', endpoint: 'http://127.0.0.1:8080' },
    { case: 'a query', endpoint: 'https://gw.example.com/?x=1' },
    { case: 'an empty query', endpoint: 'https://gw.example.com/?' },
    { case: 'a fragment', endpoint: 'https://gw.example.com/#a' },
    { case: 'credentials', endpoint: 'https://user:pw@gw.example.com' },
    { case: 'no scheme', endpoint: 'gw.example.com' },
  ])('refuses an endpoint with $case', ({ endpoint }) => {
    expect(connectGatewayEndpoint(endpoint)).toBeUndefined();
    let error: unknown;
    try {
      connectGatewayUrl(fleet('projects/123/locations/global/memberships/m1'), { endpoint });
    } catch (err) {
      error = err;
    }
    expect(isMeshlinkError(error, 'invalid-argument')).toBe(true);
    expect((error as Error).message).toContain('https');
  });

  it('asks for the project number when given an unmapped project id', () => {
    let error: unknown;
    try {
      connectGatewayUrl(fleet('projects/acme-prod/locations/global/memberships/m1'), { projectNumbers: { other: '1' } });
    } catch (err) {
      error = err;
    }
    expect(isMeshlinkError(error, 'invalid-argument')).toBe(true);
    expect((error as Error).message).toContain('project number of "acme-prod"');
  });
});
