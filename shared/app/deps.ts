// What every use-case is given: the two ports, the clock, a logger and a few settings.
import type { Clock } from '../clock.js';
import type { ClusterResolver } from '../clusters/port.js';
import type { Logger } from '../log.js';
import type { SecretStore } from '../store/port.js';

export interface AppSettings {
  /** Prefix of every store secret id (`meshlink-mysql-ca`). */
  secretPrefix: string;
  /** How long a worker holds a link before another may take it over (crash recovery). */
  leaseMs: number;
}

export interface AppDeps {
  store: SecretStore;
  clusters: ClusterResolver;
  clock: Clock;
  log: Logger;
  settings: AppSettings;
  /** Identifies this worker in leases. */
  workerId: string;
}

export const DEFAULT_SETTINGS: AppSettings = {
  secretPrefix: 'meshlink',
  leaseMs: 120_000,
};
