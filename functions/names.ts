// The entry points meshlink registers with functions-framework; infra/ deploys exactly these
// (test/infra checks both sides agree). Each is a Cloud Functions 2nd gen function.
export const FUNCTION_NAMES = {
  /** HTTP: create, read, list, delete and force-rotate links; run a sweep on demand. */
  api: 'meshlinkApi',
  /** CloudEvent (Pub/Sub, from Cloud Scheduler): list link metadata, fan due links out. */
  sweep: 'meshlinkSweep',
  /** CloudEvent (Pub/Sub, the fan-out topic): rotate one link. */
  rotateLink: 'meshlinkRotateLink',
  /** CloudEvent (Pub/Sub, from the audit-log sink or operators): bring clusters into their links. */
  clusterRegistration: 'meshlinkClusterRegistration',
} as const;
