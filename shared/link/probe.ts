// What the link's state keeps of its last probe, and which server end a link's probe dials. Pure:
// the spec, the state, an observation and the time in; a bounded record out (the state is one
// store annotation under 16 KiB, and a served certificate's subject or SANs are the server's to choose).
import { sideIdentity } from './names.js';
import { externalSide, serverPort, type LinkSpec } from './spec.js';
import type { LinkState } from './state.js';
import type { ProbeErrorKind, ProbeObservation, ServedCertificate } from '../probe/port.js';

export interface ProbeRecord {
  /** When this result was recorded. */
  at: string;
  /** When this verdict (outcome, error kind, served leaf, current) was first seen: the sweep records only changes. */
  since: string;
  outcome: 'ok' | 'error' | 'skipped';
  /** `address:port` dialled. */
  target?: string;
  error?: { kind: ProbeErrorKind; message: string };
  /** Why no probe was made (no address known, no client credential of ours). */
  reason?: string;
  latencyMs?: number;
  /** The leaf the server end presented: our server's, or the partner's (`partner`). */
  served?: ServedCertificate;
  /** Our server: whether the served leaf is the current stored server version (false: the gateway still serves an old one). */
  current?: boolean;
  /** The server end is the partner's (`server.external`): `served` is the partner's certificate. */
  partner?: true;
}

/** Where the probe dials and what the served leaf must carry, or why there is nothing to dial. */
export type ProbeTarget = { address: string; port: number; servername: string; subjectAltNames: string[]; partner: boolean } | { skip: string };

/**
 * Our server: the spec's `server.address`, else the ingress address sync found on the gateway
 * Service, on the gateway port; pinned to the server identity. A partner's server: its address and
 * port, pinned to the identities the spec gives. A partner's client: no credential to present.
 */
export function probeTarget(spec: LinkSpec, state: LinkState): ProbeTarget {
  if (externalSide(spec) === 'client') return { skip: "the client side is the partner's: meshlink holds no client credential to present" };
  if (!state.leaves.client) return { skip: 'no client credential yet' };
  const port = serverPort(spec);
  if ('external' in spec.server) {
    const { address, subjectAltNames } = spec.server.external;
    return { address, port, servername: spec.host, subjectAltNames: [...subjectAltNames], partner: true };
  }
  const address = spec.server.address ?? state.sync.server.address;
  if (!address) return { skip: 'no ingress address known (set server.address, or wait until the ingress gateway Service has one)' };
  return { address, port, servername: spec.host, subjectAltNames: [sideIdentity(spec.host, spec.name, 'server')], partner: false };
}

const MAX_TEXT = 256;
const MAX_SANS = 8;

function clip(text: string): string {
  return text.length <= MAX_TEXT ? text : `${text.slice(0, MAX_TEXT - 1)}…`;
}

function boundedServed(served: ServedCertificate): ServedCertificate {
  return { fingerprint: served.fingerprint, notAfter: served.notAfter, subject: clip(served.subject), subjectAltNames: served.subjectAltNames.slice(0, MAX_SANS).map(clip) };
}

function verdict(record: ProbeRecord | undefined): string {
  return JSON.stringify([record?.outcome, record?.error?.kind, record?.reason, record?.served?.fingerprint, record?.current]);
}

/** The record of a probe made at `now` (or of none, `skip`), keeping `since` while the verdict stays the same. */
export function probeRecord(target: ProbeTarget, observation: ProbeObservation | undefined, state: LinkState, now: Date, previous: ProbeRecord | undefined): ProbeRecord {
  const at = now.toISOString();
  let record: ProbeRecord;
  if ('skip' in target || !observation) {
    record = { at, since: at, outcome: 'skipped', reason: clip('skip' in target ? target.skip : 'not probed') };
  } else {
    const served = observation.served ? boundedServed(observation.served) : undefined;
    const current = served && !target.partner && state.leaves.server ? { current: served.fingerprint === state.leaves.server.fingerprint } : {};
    record = {
      at,
      since: at,
      outcome: observation.ok ? 'ok' : 'error',
      target: `${target.address}:${target.port}`,
      ...(observation.error ? { error: { kind: observation.error.kind, message: clip(observation.error.message) } } : {}),
      latencyMs: observation.latencyMs,
      ...(served ? { served } : {}),
      ...current,
      ...(target.partner ? { partner: true as const } : {}),
    };
  }
  return previous && verdict(previous) === verdict(record) ? { ...record, since: previous.since } : record;
}

/**
 * Whether the sweep writes this record over `previous`: only a changed verdict costs a store write,
 * and a link never probed that cannot be (no address) is left without a record.
 */
export function sweepRecords(previous: ProbeRecord | undefined, next: ProbeRecord): boolean {
  if (!previous && next.outcome === 'skipped') return false;
  return verdict(previous) !== verdict(next);
}
