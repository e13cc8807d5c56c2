// Decoding cluster registration messages from Pub/Sub: Cloud Audit Log entries a log sink routes
// (GKE CreateCluster/DeleteCluster, fleet Create/Update/DeleteMembership) and meshlink's own small
// JSON event. Pure: anything it cannot use becomes `{ ignore: reason }`, never an exception.
// Shapes: docs/registration.md; fixtures and their sources: test/fixtures/registration/. The
// message itself is read by queue/pubsub-message.ts.
import { parseClusterRef } from '../link/cluster-ref.js';
import { messageJson, isIgnored, object, text, type Ignored, type Json, type PubSubMessage } from '../queue/pubsub-message.js';
import { AUDIT_METHODS } from './methods.js';

export type RegistrationKind = 'registered' | 'deregistered';
export type RegistrationSource = 'gke-audit' | 'fleet-audit' | 'meshlink';

export interface RegistrationEvent {
  kind: RegistrationKind;
  /** Every reference the event gives for the one cluster it is about (see aliases.ts). */
  aliases: string[];
  source: RegistrationSource;
  /** The audit entry's `operation.id` (for logs). */
  operationId?: string;
}

const AUDIT_LOG_TYPE = 'type.googleapis.com/google.cloud.audit.AuditLog';
const GKE_SERVICE = 'container.googleapis.com';
const FLEET_SERVICE = 'gkehub.googleapis.com';

export function decodeRegistrationMessage(message: PubSubMessage): RegistrationEvent | Ignored {
  const doc = messageJson(message);
  if (isIgnored(doc)) return doc;
  if ('protoPayload' in doc) return decodeAuditEntry(doc);
  if ('cluster' in doc || 'event' in doc) return decodeOwnEvent(doc);
  return { ignore: 'neither a Cloud Audit Log entry nor a meshlink registration event' };
}

/** `{"cluster": "<reference>", "event": "registered" | "deregistered"}` */
function decodeOwnEvent(doc: Json): RegistrationEvent | Ignored {
  const cluster = doc.cluster;
  if (typeof cluster !== 'string' || cluster.trim() === '') return { ignore: 'meshlink event without a cluster reference' };
  if (doc.event !== 'registered' && doc.event !== 'deregistered') {
    return { ignore: `meshlink event for ${cluster}: event must be "registered" or "deregistered"` };
  }
  try {
    parseClusterRef(cluster);
  } catch (err) {
    return { ignore: `meshlink event: ${(err as Error).message}` };
  }
  return { kind: doc.event, aliases: [cluster], source: 'meshlink' };
}

type MethodRule = { source: 'gke-audit' | 'fleet-audit'; kind: RegistrationKind };

/**
 * Matches the method by its full final segment(s): the sink selects by substring, which also lets
 * through e.g. `CreateMembershipBinding` and `CreateMembershipRBACRoleBinding` (fleet scopes), and
 * those say nothing about a cluster.
 */
function methodRule(service: string, method: string): MethodRule | undefined {
  const kind = (name: string): RegistrationKind => (name.includes('Delete') ? 'deregistered' : 'registered');
  if (service === GKE_SERVICE) {
    const m = AUDIT_METHODS.gke.find((name) => method === name || method.endsWith(`.${name}`));
    return m ? { source: 'gke-audit', kind: kind(m) } : undefined;
  }
  if (service === FLEET_SERVICE) {
    const last = method.split('.').pop();
    const m = AUDIT_METHODS.fleet.find((name) => name === last);
    return m ? { source: 'fleet-audit', kind: kind(m) } : undefined;
  }
  return undefined;
}

function decodeAuditEntry(entry: Json): RegistrationEvent | Ignored {
  const payload = object(entry.protoPayload);
  const type = payload?.['@type'];
  if (!payload || (type !== undefined && type !== AUDIT_LOG_TYPE)) return { ignore: 'log entry whose protoPayload is not an AuditLog' };
  const service = text(payload.serviceName);
  const method = text(payload.methodName);
  if (!service || !method) return { ignore: 'audit entry without protoPayload.serviceName or methodName' };
  const rule = methodRule(service, method);
  if (!rule) return { ignore: `not a registration method: ${service} ${method}` };

  // A long-running operation logs a first entry when it starts and a last one when it ends; the
  // cluster exists (or is gone) only at the last. No `operation` at all: the call failed at once.
  const operation = object(entry.operation);
  const status = object(payload.status);
  const code = typeof status?.code === 'number' ? status.code : 0;
  if (!operation) return { ignore: `${method} without an operation: the call failed synchronously${code ? ` (status ${code})` : ''}` };
  const operationId = text(operation.id);
  const op = operationId ?? '(no id)';
  if (operation.last !== true) return { ignore: `${method} operation ${op} started; acting on its last entry` };
  if (code !== 0) return { ignore: `${method} operation ${op} failed (status ${code}${text(status?.message) ? `: ${status?.message as string}` : ''})` };

  const aliases = rule.source === 'gke-audit' ? gkeAliases(entry, payload) : fleetAliases(entry, payload);
  if (aliases.length === 0) return { ignore: `${method} operation ${op}: the entry names no cluster` };
  return { kind: rule.kind, aliases, source: rule.source, ...(operationId ? { operationId } : {}) };
}

/** Strips a full resource name's service prefix: `//container.googleapis.com/projects/...`. */
function relativeName(name: unknown): string | undefined {
  const s = text(name);
  return s?.replace(/^\/\/[^/]+\//, '');
}

/** A reference as parseClusterRef reads it, in the canonical `locations/` and `memberships/` spelling. */
function canonical(name: string | undefined, kind: 'gke' | 'fleet'): string | undefined {
  if (!name) return undefined;
  try {
    const r = parseClusterRef(name);
    if (r.kind === 'gke' && kind === 'gke') return `projects/${r.project}/locations/${r.location}/clusters/${r.cluster}`;
    if (r.kind === 'fleet' && kind === 'fleet') return `projects/${r.project}/locations/${r.location}/memberships/${r.membership}`;
  } catch {
    // not a reference of that kind
  }
  return undefined;
}

/**
 * The project id the entry was logged in (`resource.labels.project_id`, else the `logName`'s).
 * Resource names in entries may carry the project number instead.
 */
function loggedProjectId(entry: Json): string | undefined {
  const fromLabels = text(object(object(entry.resource)?.labels)?.project_id);
  const fromLogName = /^projects\/([^/]+)\/logs\//.exec(text(entry.logName) ?? '')?.[1];
  const id = fromLabels ?? fromLogName;
  return id && !/^\d+$/.test(id) ? id : undefined;
}

/** Adds the project-id spelling of names that came with the entry's own project number. */
function withProjectId(names: (string | undefined)[], projectId: string | undefined): string[] {
  const out: string[] = [];
  for (const n of names) {
    if (!n || out.includes(n)) continue;
    out.push(n);
    const m = /^projects\/(\d+)\/(.*)$/.exec(n);
    if (m && projectId) {
      const alt = `projects/${projectId}/${m[2]}`;
      if (!out.includes(alt)) out.push(alt);
    }
  }
  return out;
}

function gkeAliases(entry: Json, payload: Json): string[] {
  const resource = object(entry.resource);
  const labels = object(resource?.labels);
  const project = text(labels?.project_id);
  const location = text(labels?.location);
  const cluster = text(labels?.cluster_name);
  // Prefer the labels: resourceName says `zones/` for zonal clusters even when the call said `locations/`.
  const fromLabels = resource?.type === 'gke_cluster' && project && location && cluster ? `projects/${project}/locations/${location}/clusters/${cluster}` : undefined;
  const request = object(payload.request);
  const requested = text(object(request?.cluster)?.name);
  const fromRequest = requested && text(request?.parent) ? `${request?.parent as string}/clusters/${requested}` : undefined;
  return withProjectId(
    [fromLabels, canonical(relativeName(payload.resourceName), 'gke'), canonical(fromRequest, 'gke')],
    loggedProjectId(entry),
  );
}

function fleetAliases(entry: Json, payload: Json): string[] {
  const request = object(payload.request);
  const response = object(payload.response);
  const created = text(request?.parent) && text(request?.membershipId) ? `${request?.parent as string}/memberships/${request?.membershipId as string}` : undefined;
  const memberships = [relativeName(payload.resourceName), relativeName(request?.name), created, relativeName(object(request?.resource)?.name), relativeName(response?.name)];
  const own = withProjectId(
    memberships.map((n) => canonical(n, 'fleet')),
    loggedProjectId(entry),
  );
  // The GKE cluster behind the membership (`endpoint.gkeCluster.resourceLink`), when the entry
  // carries the Membership (the first entry's request; the last entry's response, if any). It
  // may live in another project than the fleet: no project-id spelling is added for it.
  const links = [object(request?.resource), request, response].map((m) => relativeName(object(object(m?.endpoint)?.gkeCluster)?.resourceLink));
  const clusters = links.map((n) => canonical(n, 'gke')).filter((n): n is string => n !== undefined);
  return [...own, ...clusters.filter((c, i) => clusters.indexOf(c) === i && !own.includes(c))];
}
