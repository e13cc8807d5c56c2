// The in-process adapter of the RotationQueue port (port.ts): the sweep's due links rotated here,
// with bounded concurrency, by calling the rotateLink use-case directly (local runs and tests).
import pLimit from 'p-limit';
import type { AppDeps } from '../app/deps.js';
import { rotateLink, type RotationOutcome } from '../app/rotate.js';
import { errorFields } from '../log.js';
import { LOG_EVENTS } from '../log-events.js';
import type { DueLink, RotationQueue } from './port.js';

/** Runs up to `concurrency` tasks at a time, started in order of the list. */
export function mapBounded<T, R>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const limit = pLimit(Math.max(1, concurrency));
  return Promise.all(items.map((item) => limit(() => fn(item))));
}

export class InProcessRotationQueue implements RotationQueue {
  constructor(
    private readonly deps: AppDeps,
    private readonly options: { concurrency?: number } = {},
  ) {}

  /** Rotates the links now, and returns each one's outcome (one queue serves concurrent sweeps). */
  async enqueue(links: DueLink[]): Promise<RotationOutcome[]> {
    return mapBounded(links, this.options.concurrency ?? this.deps.settings.rotationConcurrency, async ({ link, reason }): Promise<RotationOutcome> => {
      try {
        return await rotateLink(this.deps, link, { reason });
      } catch (err) {
        // One link's failure is that link's: the others still rotate; the next sweep retries it.
        this.deps.log.error('rotation failed', { event: LOG_EVENTS.rotationFailed, link, reason, ...errorFields(err) });
        return { link, outcome: 'failed', steps: [], reason, error: String(errorFields(err).error) };
      }
    });
  }
}
