// Rotation entry points: the two CloudEvent functions (the scheduled sweep and the per-link
// worker fed by the sweep's Pub/Sub fan-out) and the HTTP routes (force a rotation, sweep now).
// Thin: decode the trigger, call a use-case, encode the answer. A CloudEvent handler throws only
// for a retryable failure (Pub/Sub redelivers); anything permanent is logged and acknowledged.
import * as ff from '@google-cloud/functions-framework';
import * as z from 'zod';
import type { AppDeps } from '../shared/app/deps.js';
import { getLink } from '../shared/app/queries.js';
import { forceRotation, rotateLink, type RotationOutcome } from '../shared/app/rotate.js';
import type { RotationQueue } from '../shared/queue/port.js';
import { sweep, type SweepReport } from '../shared/app/sweep.js';
import { makeRotationQueue } from '../shared/compose.js';
import { isMeshlinkError, MeshlinkError } from '../shared/errors.js';
import { errorFields } from '../shared/log.js';
import { LOG_EVENTS } from '../shared/log-events.js';
import { isIgnored, type Ignored } from '../shared/queue/pubsub-message.js';
import { decodeRotationMessage } from '../shared/queue/pubsub-rotation-queue.js';
import { bodyFormat, decodeBody, type ApiRequest, type Route } from './http-api.js';
import { FUNCTION_NAMES } from './names.js';
import { outsideDomain } from './outside-domain.js';
import { runtimeConfig, runtimeDeps } from './runtime.js';

/** The worker: rotates the one link of a message. Returns the outcome, or why the message was ignored. */
export async function handleRotateLinkEvent(deps: AppDeps, event: unknown): Promise<RotationOutcome | Ignored> {
  const message = decodeRotationMessage(event);
  if (isIgnored(message)) {
    deps.log.error('rotation message ignored; acknowledged without effect', { reason: message.ignore });
    return message;
  }
  const ids = message.messageId ? { messageId: message.messageId } : {};
  try {
    const outcome = await rotateLink(deps, message.link, { reason: message.reason });
    deps.log.info('rotation worker done', { link: message.link, reason: message.reason, outcome: outcome.outcome, steps: outcome.steps, ...ids });
    return outcome;
  } catch (err) {
    if (isMeshlinkError(err) && err.retryable) throw err; // Pub/Sub redelivers; the worker re-decides from the state
    deps.log.error('rotation failed; acknowledged (the next sweep tries again)', { event: LOG_EVENTS.rotationFailed, link: message.link, ...errorFields(err), ...ids });
    return { link: message.link, outcome: 'failed', steps: [], error: String(errorFields(err).error) };
  }
}

/** The scheduled sweep: lists links, hands the due ones to the queue. */
export async function handleSweepEvent(deps: AppDeps, queue: RotationQueue): Promise<SweepReport | undefined> {
  try {
    return await sweep(deps, queue);
  } catch (err) {
    if (isMeshlinkError(err) && err.retryable) throw err;
    deps.log.error('sweep failed; acknowledged (the next schedule runs again)', { event: LOG_EVENTS.sweepFailed, ...errorFields(err) });
    return undefined;
  }
}

/** Which queue a sweep fans out with, for an app. */
export type QueueFor = (deps: AppDeps) => Promise<RotationQueue>;

/**
 * One queue per instance (per app), shared by the scheduled sweep and POST /rotations:sweep: the
 * Pub/Sub client and its connection are reused across invocations, never left open per request.
 * A failed creation is not kept: the next call tries again.
 */
export function oneQueuePerApp(make: QueueFor): QueueFor {
  const queues = new WeakMap<AppDeps, Promise<RotationQueue>>();
  return (deps) => {
    let queue = queues.get(deps);
    if (!queue) {
      queue = make(deps);
      queues.set(deps, queue);
      queue.catch(() => queues.delete(deps));
    }
    return queue;
  };
}

const runtimeQueue: QueueFor = oneQueuePerApp((deps) => makeRotationQueue(runtimeConfig(), deps));

ff.cloudEvent(FUNCTION_NAMES.sweep, () =>
  outsideDomain(async () => {
    const deps = await runtimeDeps();
    await handleSweepEvent(deps, await runtimeQueue(deps));
  }),
);

ff.cloudEvent<unknown>(FUNCTION_NAMES.rotateLink, async (event: ff.CloudEvent<unknown>) => {
  await outsideDomain(async () => handleRotateLinkEvent(await runtimeDeps(), event));
});

const rotateBody = z.strictObject({
  scope: z.enum(['leaf', 'ca'], { error: 'must be leaf (both leaves now) or ca (a full CA rollover, shortened grace)' }),
  requestId: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1 to 128 letters, digits, ., _, : or -')
    .optional(),
});

function parseRotateBody(req: ApiRequest): z.infer<typeof rotateBody> {
  // An unreadable media type is 415 (as for POST /links) even without a body: an empty body
  // of a readable type is no field at all (400 naming scope).
  bodyFormat(req);
  const input = req.body.length === 0 ? {} : decodeBody(req);
  const result = rotateBody.safeParse(input);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return { path: issue.keys[0] ?? '(root)', message: `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}` };
    const path = issue.path.map(String).join('.') || '(root)';
    const missing = issue.path.length > 0 && (input as Record<string, unknown> | null)?.[String(issue.path[0])] === undefined;
    return { path, message: missing ? 'is required' : issue.message };
  });
  throw new MeshlinkError('invalid-argument', 'invalid rotation request', { details });
}

export function makeRotationRoutes(queueFor: QueueFor = runtimeQueue): Route[] {
  return [
    {
      method: 'POST',
      path: '/links/:name\\:rotate',
      handler: async (deps, req, params) => {
        const body = parseRotateBody(req);
        const { state: _state, ...result } = await forceRotation(deps, params.name!, body.scope, body.requestId);
        // 200 when the forced rotation is finished; 202 when a rollover goes on in later sweeps.
        return { status: result.completed ? 200 : 202, body: { ...result, status: await getLink(deps, params.name!) } };
      },
    },
    {
      method: 'POST',
      path: '/rotations\\:sweep',
      handler: async (deps) => {
        const report = await sweep(deps, await queueFor(deps));
        const failures = report.rotated.filter((r) => r.error).map((r) => ({ link: r.link, error: r.error! }));
        return { status: 200, body: { ...report, errors: [...report.errors, ...failures] } };
      },
    },
  ];
}

export const rotationRoutes: Route[] = makeRotationRoutes();

/**
 * Local runs (`npm start`): a sweep every `intervalMs` with the given queue (in-process), never two
 * at once. Production uses Cloud Scheduler -> Pub/Sub -> meshlinkSweep instead. Returns a stop function.
 */
export function startSweepTimer(deps: AppDeps, queue: RotationQueue, intervalMs: number): () => void {
  let running = false;
  const tick = async () => {
    if (running) return; // a slow sweep is not overlapped by the next tick
    running = true;
    try {
      await sweep(deps, queue);
    } catch (err) {
      deps.log.error('sweep failed', { event: LOG_EVENTS.sweepFailed, ...errorFields(err) });
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  return () => clearInterval(timer);
}
