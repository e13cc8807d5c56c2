// Checks the cluster RBAC manifest meshlink's README asks operators to apply, and that the check catches broken copies.
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { checkDiscoveryRbac, checkRbac, type RbacPolicy } from './rbac-checks.js';

const MANIFEST = new URL('../../infra/rbac/meshlink-rbac.yaml', import.meta.url);
const DISCOVERY = new URL('../../infra/rbac/meshlink-gateway-discovery.yaml', import.meta.url);

const POLICY: RbacPolicy = {
  manage: [
    'networking.istio.io/gateways',
    'networking.istio.io/virtualservices',
    'networking.istio.io/destinationrules',
    'networking.istio.io/serviceentries',
    'secrets',
  ],
  manageVerbs: ['get', 'list', 'create', 'update', 'patch', 'delete'],
  services: ['istio-ingressgateway', 'istio-egressgateway'],
  serviceVerbs: ['get', 'patch'],
};

// Loosely typed on purpose: the mutations reach into parsed YAML.
type Obj = Record<string, any>;
let raw = '';
let discoveryRaw = '';
const docs = (text = raw): Obj[] => parseAllDocuments(text).map((d) => d.toJS() as Obj);

beforeAll(async () => {
  [raw, discoveryRaw] = await Promise.all([readFile(MANIFEST, 'utf8'), readFile(DISCOVERY, 'utf8')]);
});

describe('infra/rbac/meshlink-rbac.yaml', () => {
  it('is a namespaced Role for the gateway objects bound to one User', () => {
    expect(docs().map((d) => d.kind)).toEqual(['Role', 'RoleBinding']);
    expect(checkRbac(docs(), POLICY)).toEqual([]);
  });

  const CASES: { name: string; expect: string; mutate: (role: Obj, binding: Obj) => void }[] = [
    {
      name: 'the Role becomes a ClusterRole',
      expect: 'ClusterRole: only a namespaced Role',
      mutate: (role) => {
        role.kind = 'ClusterRole';
      },
    },
    {
      name: 'a rule uses a wildcard verb',
      expect: 'wildcards are not allowed',
      mutate: (role) => {
        role.rules[1].verbs = ['*'];
      },
    },
    {
      name: 'the Services rule loses its resourceNames',
      expect: 'services: must be limited by resourceNames',
      mutate: (role) => {
        delete role.rules[2].resourceNames;
      },
    },
    {
      name: 'the Services rule gains delete',
      expect: 'services: verb delete is not needed',
      mutate: (role) => {
        role.rules[2].verbs.push('delete');
      },
    },
    {
      name: 'ServiceEntries are dropped',
      expect: 'networking.istio.io/serviceentries: missing verbs',
      mutate: (role) => {
        role.rules[0].resources = ['gateways', 'virtualservices', 'destinationrules'];
      },
    },
    {
      name: 'ConfigMaps are added',
      expect: 'configmaps: not something meshlink manages',
      mutate: (role) => {
        role.rules[1].resources.push('configmaps');
      },
    },
    {
      name: 'the binding names a Group',
      expect: 'must bind exactly one User',
      mutate: (_role, binding) => {
        binding.subjects[0].kind = 'Group';
      },
    },
  ];
  it.each(CASES)('reports: $name', ({ expect: problem, mutate }) => {
    const copy = docs();
    mutate(copy[0] as Obj, copy[1] as Obj);
    const problems = checkRbac(copy, POLICY);
    expect(problems.some((p) => p.includes(problem)), problems.join('\n') || '(no problem reported)').toBe(true);
  });
});

describe('infra/rbac/meshlink-gateway-discovery.yaml', () => {
  it('is a ClusterRole that only lists pods, bound to one User', () => {
    expect(docs(discoveryRaw).map((d) => d.kind)).toEqual(['ClusterRole', 'ClusterRoleBinding']);
    expect(checkDiscoveryRbac(docs(discoveryRaw))).toEqual([]);
  });

  const CASES: { name: string; expect: string; mutate: (role: Obj, binding: Obj) => void }[] = [
    { name: 'pods gain get', expect: '/pods:get: only list on pods is needed', mutate: (role) => void role.rules[0].verbs.push('get') },
    { name: 'secrets are added', expect: '/secrets:list: only list on pods', mutate: (role) => void role.rules[0].resources.push('secrets') },
    { name: 'list is dropped', expect: 'pods: list is missing', mutate: (role) => void (role.rules[0].verbs = ['watch']) },
    { name: 'the binding names a Group', expect: 'must bind exactly one User', mutate: (_role, binding) => void (binding.subjects[0].kind = 'Group') },
    { name: 'the binding refers to another role', expect: 'does not refer to the ClusterRole', mutate: (_role, binding) => void (binding.roleRef.name = 'cluster-admin') },
  ];
  it.each(CASES)('reports: $name', ({ expect: problem, mutate }) => {
    const copy = docs(discoveryRaw);
    mutate(copy[0] as Obj, copy[1] as Obj);
    const problems = checkDiscoveryRbac(copy);
    expect(problems.some((p) => p.includes(problem)), problems.join('\n') || '(no problem reported)').toBe(true);
  });
});
