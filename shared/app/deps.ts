// What every use-case is given: the two ports, the clock, a logger and a few settings.
import type { Clock } from '../clock.js';
import type { ClaimStore } from '../store/claims/port.js';
import type { CertificateAuthorityService } from '../cas/port.js';
import type { ClusterResolver } from '../clusters/port.js';
import type { Logger } from '../log.js';
import type { Prober } from '../probe/port.js';
import { DEFAULT_ROTATION_SETTINGS, type RotationSettings } from '../rotation/plan.js';
import type { ForeignSecretReader, SecretStore } from '../store/port.js';

export interface AppSettings extends RotationSettings {
  /** Prefix of every store secret id (`meshlink-mysql-ca`). */
  secretPrefix: string;
  /** How long a worker holds a link before another may take it over (crash recovery). */
  leaseMs: number;
  /** Link secrets per listing page in a sweep (Secret Manager caps pages at 25,000). */
  sweepPageSize: number;
  /** Links rotated at once by the in-process fan-out (local runs, POST /rotations:sweep without Pub/Sub). */
  rotationConcurrency: number;
  /** The link health probe (app/probe.ts): whether the sweep probes every link, at most how many at once, each dial's limit. */
  probe: { sweep: boolean; concurrency: number; timeoutMs: number };
  /**
   * Store writes a minute the rotations of one sweep may cost (MESHLINK_WRITE_BUDGET; Secret
   * Manager allows 600 a project): more due links wait for the next sweep.
   */
  writeBudget: number;
}

export interface AppDeps {
  store: SecretStore;
  /**
   * Where claims are kept when not in the store: a Cloud Storage bucket (MESHLINK_CLAIMS_BUCKET).
   * Absent: secrets of the store (app/port-claim.ts).
   */
  claims?: ClaimStore;
  /** Secrets the organisation manages (issuers of type secretManager); absent: the store's own (sameStoreForeignSecrets). */
  foreignSecrets?: ForeignSecretReader;
  /** Google CA Service, for issuers of type cas (absent: such issuers are refused). */
  cas?: CertificateAuthorityService;
  clusters: ClusterResolver;
  /** Dials a link's server end (probe/tls-probe.ts); absent: links are not probed (POST :probe answers that). */
  prober?: Prober;
  clock: Clock;
  log: Logger;
  settings: AppSettings;
  /** Identifies this worker in leases. */
  workerId: string;
}

export const DEFAULT_SETTINGS: AppSettings = {
  ...DEFAULT_ROTATION_SETTINGS,
  secretPrefix: 'meshlink',
  leaseMs: 120_000,
  sweepPageSize: 1000,
  rotationConcurrency: 4,
  probe: { sweep: true, concurrency: 8, timeoutMs: 5_000 },
  writeBudget: 500,
};
