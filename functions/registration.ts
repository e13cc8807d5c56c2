// Cluster registration events: the Pub/Sub CloudEvent function, and the same handling as a local
// HTTP route (POST /events/cluster-registration) so an operator can replay an event with curl.
// Thin: find the Pub/Sub message, decode it, call the use-case. Throws only what is worth a
// redelivery (`unavailable`); anything else is logged with its reason and acknowledged.
import * as ff from '@google-cloud/functions-framework';
import type { AppDeps } from '../shared/app/deps.js';
import { deregisterCluster, registerCluster, type RegistrationResult } from '../shared/app/register.js';
import { MeshlinkError, isMeshlinkError } from '../shared/errors.js';
import { errorFields } from '../shared/log.js';
import { decodeRegistrationMessage, type RegistrationKind, type RegistrationSource } from '../shared/registration/events.js';
import { isIgnored, messageFromCloudEvent } from '../shared/queue/pubsub-message.js';
import { cloudEventFromRequest } from './cloud-event-request.js';
import type { Route } from './http-api.js';
import { FUNCTION_NAMES } from './names.js';
import { outsideDomain } from './outside-domain.js';
import { runtimeDeps } from './runtime.js';

export type RegistrationOutcome =
  | { outcome: 'ignored' | 'failed'; reason: string; messageId?: string }
  | ({ outcome: 'handled'; event: RegistrationKind; source: RegistrationSource; cluster: string; aliases: string[]; messageId?: string } & RegistrationResult);

/** Handles one messagePublished CloudEvent (or a push body the framework left as it was). */
export async function handleRegistrationEvent(deps: AppDeps, cloudEvent: unknown): Promise<RegistrationOutcome> {
  const message = messageFromCloudEvent(cloudEvent);
  if (isIgnored(message)) {
    deps.log.info('registration message ignored', { reason: message.ignore });
    return { outcome: 'ignored', reason: message.ignore };
  }
  const ids = message.messageId ? { messageId: message.messageId } : {};
  const event = decodeRegistrationMessage(message);
  if (isIgnored(event)) {
    deps.log.info('registration message ignored', { reason: event.ignore, ...ids });
    return { outcome: 'ignored', reason: event.ignore, ...ids };
  }
  const cluster = event.aliases[0]!;
  const log = deps.log.with({ cluster, event: event.kind, source: event.source, ...ids, ...(event.operationId ? { operation: event.operationId } : {}) });
  try {
    const result = event.kind === 'registered' ? await registerCluster(deps, event) : await deregisterCluster(deps, event);
    log.info('cluster event handled', { aliases: event.aliases, ...result });
    return { outcome: 'handled', event: event.kind, source: event.source, cluster, aliases: event.aliases, ...ids, ...result };
  } catch (err) {
    if (isMeshlinkError(err) && err.retryable) throw err; // Pub/Sub redelivers (non-2xx)
    log.error('cluster event failed; not retried', errorFields(err));
    return { outcome: 'failed', reason: err instanceof MeshlinkError ? err.message : 'internal error', ...ids };
  }
}

ff.cloudEvent(FUNCTION_NAMES.clusterRegistration, async (cloudEvent: ff.CloudEvent<unknown>) => {
  await outsideDomain(async () => handleRegistrationEvent(await runtimeDeps(), cloudEvent));
});

/** For the local server: the function's handling behind POST /events/cluster-registration. */
export const registrationRoutes: Route[] = [
  {
    method: 'POST',
    path: '/events/cluster-registration{/}',
    handler: async (deps, req) => ({ status: 200, body: await handleRegistrationEvent(deps, cloudEventFromRequest(req)) }),
  },
];
