// The cluster resolver: which adapter a reference gets, caching, and the local fallback.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LazyKubernetesTarget } from '../../shared/clusters/resolver.js';
import { LocalDirectoryTarget } from '../../shared/clusters/local-directory-target.js';
import type { ClusterTarget } from '../../shared/clusters/port.js';
import { KubernetesClusterResolver, localClusterDir, type RemoteClusterRef } from '../../shared/clusters/resolver.js';

const STATE = '/var/lib/meshlink-test';

function recording(mode?: 'auto' | 'local') {
  const made: { how: string; cluster: string; detail: string }[] = [];
  const fakeTarget = (cluster: string) => ({ cluster }) as ClusterTarget;
  const resolver = new KubernetesClusterResolver({
    stateDir: STATE,
    ...(mode ? { mode } : {}),
    makeLocal: (cluster, dir) => (made.push({ how: 'local', cluster, detail: dir }), fakeTarget(cluster)),
    makeRemote: (cluster, ref: RemoteClusterRef) => (made.push({ how: 'remote', cluster, detail: ref.kind }), fakeTarget(cluster)),
  });
  return { resolver, made };
}

describe('KubernetesClusterResolver', () => {
  it.each([
    { ref: 'server', how: 'local', detail: join(STATE, 'clusters', 'server') },
    { ref: 'projects/p/locations/l/clusters/c', how: 'remote', detail: 'gke' },
    { ref: 'projects/1/locations/global/memberships/m', how: 'remote', detail: 'fleet' },
    { ref: 'kubeconfig:kind-a', how: 'remote', detail: 'kubeconfig' },
  ])('gives $ref a $how target ($detail)', ({ ref, how, detail }) => {
    const { resolver, made } = recording();
    expect(resolver.target(ref).cluster).toBe(ref);
    expect(made).toEqual([{ how, cluster: ref, detail }]);
  });

  it('writes every reference to a local directory in local mode', () => {
    const { resolver, made } = recording('local');
    resolver.target('projects/p/locations/l/clusters/c');
    expect(made).toEqual([{ how: 'local', cluster: 'projects/p/locations/l/clusters/c', detail: join(STATE, 'clusters', 'projects%2Fp%2Flocations%2Fl%2Fclusters%2Fc') }]);
  });

  it('makes one target per reference and reuses it', () => {
    const { resolver, made } = recording();
    const first = resolver.target('kubeconfig:a');
    expect(resolver.target('kubeconfig:a')).toBe(first);
    expect(resolver.target('kubeconfig:b')).not.toBe(first);
    expect(made).toHaveLength(2);
  });

  it('refuses a malformed cloud reference', () => {
    const { resolver } = recording();
    expect(() => resolver.target('projects/p/locations/l/clusters/')).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });

  it.each([
    { ref: 'server', type: LocalDirectoryTarget },
    { ref: 'kubeconfig:kind-a', type: LazyKubernetesTarget },
    { ref: 'projects/p/locations/l/clusters/c', type: LazyKubernetesTarget },
  ])('builds the real adapter for $ref without calling anything', ({ ref, type }) => {
    const resolver = new KubernetesClusterResolver({ stateDir: STATE });
    expect(resolver.target(ref)).toBeInstanceOf(type);
  });

  it('puts local targets under <stateDir>/clusters/<safe name>', () => {
    expect(localClusterDir('/s', 'kubeconfig:a')).toBe('/s/clusters/kubeconfig%3Aa');
  });
});
