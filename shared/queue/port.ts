// The fan-out port: the sweep hands each due link to a worker through it. Adapters, beside it:
// in-process (in-process-rotation-queue.ts: bounded concurrency, calls rotateLink directly; local
// runs and tests) and Pub/Sub (pubsub-rotation-queue.ts: one message per link to meshlinkRotateLink).
import type { RotationOutcome } from '../app/rotate.js';

export interface DueLink {
  link: string;
  reason: string;
  /** Same link and same observed state: the same key (for tracing duplicates; workers re-decide anyway). */
  dedupKey?: string;
}

export interface RotationQueue {
  /** Hands the links over. A queue that rotates them itself (in-process) returns their outcomes; one that passes them on (Pub/Sub) returns nothing. */
  enqueue(links: DueLink[]): Promise<RotationOutcome[] | void>;
}

/** The rotation message body (Pub/Sub data, base64 JSON). */
export interface RotationMessage {
  link: string;
  reason: string;
}
