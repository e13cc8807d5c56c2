// Stable names of the log events that alerts are built on (infra/alerts.tf): the `event` field of
// a log line. Messages may be reworded; an event name changes only together with its alert
// (test/infra/alerts.test.ts evaluates each alert's filter on lines the code writes).
export const LOG_EVENTS = {
  /** A link's rotation failed; it is left until the next sweep (ERROR). */
  rotationFailed: 'rotation-failed',
  /** A link side could not be written to its cluster (WARNING; recorded in the link's state). */
  syncFailed: 'sync-failed',
  /** The sweep: one line per link it listed, with days to expiry of its leaves and CA, its issuer's chain and the partner's CAs (INFO). */
  linkExpiry: 'link-expiry',
  /** The sweep: one summary line per finished sweep (INFO). */
  sweepDone: 'sweep-done',
  /** A sweep that did not finish (ERROR). */
  sweepFailed: 'sweep-failed',
  /** A link's probe failed: its server end refused, timed out, or served a certificate we do not accept (WARNING). */
  probeFailed: 'probe-failed',
} as const;

export type LogEvent = (typeof LOG_EVENTS)[keyof typeof LOG_EVENTS];
