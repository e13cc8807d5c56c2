// Pure checks of infra/rbac/meshlink-rbac.yaml: a namespaced Role bound to one User, no wildcards, gateway Services by name only.
import { isRecord } from './model.js';

type Rule = { apiGroups?: unknown; resources?: unknown; verbs?: unknown; resourceNames?: unknown };

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

export interface RbacPolicy {
  /** Resources (`group/resource`, core group empty) meshlink must be able to manage, with these verbs. */
  manage: readonly string[];
  manageVerbs: readonly string[];
  /** The only Services meshlink may touch, and how. */
  services: readonly string[];
  serviceVerbs: readonly string[];
}

export function checkRbac(docs: unknown[], policy: RbacPolicy): string[] {
  const problems: string[] = [];
  const objs = docs.filter(isRecord);
  for (const o of objs) {
    if (o.kind !== 'Role' && o.kind !== 'RoleBinding') problems.push(`${String(o.kind)}: only a namespaced Role and RoleBinding are allowed`);
  }
  const role = objs.find((o) => o.kind === 'Role');
  const binding = objs.find((o) => o.kind === 'RoleBinding');
  if (!role || !binding) return [...problems, 'expected one Role and one RoleBinding'];
  const meta = (o: Record<string, unknown>) => (isRecord(o.metadata) ? o.metadata : {});
  if (!meta(role).namespace || meta(role).namespace !== meta(binding).namespace) problems.push('Role and RoleBinding must be in the same namespace');
  const ref = isRecord(binding.roleRef) ? binding.roleRef : {};
  if (ref.kind !== 'Role' || ref.name !== meta(role).name) problems.push('RoleBinding does not refer to the Role');
  const subjects = Array.isArray(binding.subjects) ? binding.subjects.filter(isRecord) : [];
  if (subjects.length !== 1 || subjects[0]?.kind !== 'User') problems.push('RoleBinding must bind exactly one User (the runtime service account email)');

  const rules: Rule[] = Array.isArray(role.rules) ? role.rules.filter(isRecord) : [];
  const granted = new Map<string, Set<string>>();
  for (const r of rules) {
    const fields = [...list(r.apiGroups), ...list(r.resources), ...list(r.verbs)];
    if (fields.includes('*')) problems.push(`rule on ${list(r.resources).join(',')}: wildcards are not allowed`);
    for (const g of list(r.apiGroups)) {
      for (const res of list(r.resources)) {
        const key = g ? `${g}/${res}` : res;
        if (res === 'services' && g === '') {
          const names = list(r.resourceNames);
          if (names.length === 0 || names.some((n) => !policy.services.includes(n))) {
            problems.push(`services: must be limited by resourceNames to ${policy.services.join(', ')}`);
          }
          for (const v of list(r.verbs)) if (!policy.serviceVerbs.includes(v)) problems.push(`services: verb ${v} is not needed`);
          continue;
        }
        if (!policy.manage.includes(key)) problems.push(`${key}: not something meshlink manages`);
        const verbs = granted.get(key) ?? new Set<string>();
        for (const v of list(r.verbs)) verbs.add(v);
        granted.set(key, verbs);
      }
    }
  }
  for (const key of policy.manage) {
    const verbs = granted.get(key) ?? new Set<string>();
    const missing = policy.manageVerbs.filter((v) => !verbs.has(v));
    if (missing.length > 0) problems.push(`${key}: missing verbs ${missing.join(', ')}`);
    const extra = [...verbs].filter((v) => !policy.manageVerbs.includes(v));
    if (extra.length > 0) problems.push(`${key}: verbs ${extra.join(', ')} are not needed`);
  }
  return problems;
}

/**
 * Checks of infra/rbac/meshlink-gateway-discovery.yaml: one ClusterRole that may only list pods,
 * bound cluster-wide to one User.
 */
export function checkDiscoveryRbac(docs: unknown[]): string[] {
  const problems: string[] = [];
  const objs = docs.filter(isRecord);
  for (const o of objs) {
    if (o.kind !== 'ClusterRole' && o.kind !== 'ClusterRoleBinding') problems.push(`${String(o.kind)}: only a ClusterRole and its ClusterRoleBinding are expected`);
  }
  const role = objs.find((o) => o.kind === 'ClusterRole');
  const binding = objs.find((o) => o.kind === 'ClusterRoleBinding');
  if (!role || !binding) return [...problems, 'expected one ClusterRole and one ClusterRoleBinding'];
  const name = isRecord(role.metadata) ? role.metadata.name : undefined;
  const ref = isRecord(binding.roleRef) ? binding.roleRef : {};
  if (ref.kind !== 'ClusterRole' || ref.name !== name) problems.push('ClusterRoleBinding does not refer to the ClusterRole');
  const subjects = Array.isArray(binding.subjects) ? binding.subjects.filter(isRecord) : [];
  if (subjects.length !== 1 || subjects[0]?.kind !== 'User') problems.push('ClusterRoleBinding must bind exactly one User (the runtime service account email)');
  const rules: Rule[] = Array.isArray(role.rules) ? role.rules.filter(isRecord) : [];
  const granted = rules.flatMap((r) => list(r.apiGroups).flatMap((g) => list(r.resources).flatMap((res) => list(r.verbs).map((v) => `${g}/${res}:${v}`))));
  for (const g of granted) if (g !== '/pods:list') problems.push(`${g}: only list on pods is needed`);
  if (!granted.includes('/pods:list')) problems.push('pods: list is missing');
  return problems;
}
