// Audit-log method names that mean a cluster was (de)registered: the log sink's filter in infra/ and the registration handler share this list (test/infra checks the sink).
/**
 * Matched as substrings (the sink uses `methodName:"..."`), so API versions (`v1`, `v1beta1`,
 * `GkeHub` vs `GkeHubMembershipService`) need no entries of their own.
 */
export const AUDIT_METHODS = {
  /** container.googleapis.com: the cluster is ready (or gone) on the entry with `operation.last=true`. */
  gke: ['ClusterManager.CreateCluster', 'ClusterManager.DeleteCluster'],
  /** gkehub.googleapis.com: fleet memberships. */
  fleet: ['CreateMembership', 'UpdateMembership', 'DeleteMembership'],
} as const;

export type AuditMethodSource = keyof typeof AUDIT_METHODS;
