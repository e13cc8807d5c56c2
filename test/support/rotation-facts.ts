// Builders for rotation facts: a stable link at T0 (one CA, both leaves from it, both clusters
// synced), changed field by field, and a pure simulator that applies plan steps to facts.
import type { Side } from '../../shared/link/names.js';
import { BACKDATE_MS } from '../../shared/pki/types.js';
import type { CaFacts, LeafFacts, RotationFacts } from '../../shared/rotation/facts.js';
import { peerOf, SIDES } from '../../shared/rotation/facts.js';
import type { Step } from '../../shared/rotation/plan.js';
import { renewalTime } from '../../shared/rotation/renewal.js';
import { rolloverMarks } from '../../shared/rotation/rollover.js';

export const T0 = new Date('2026-03-01T00:00:00Z');
export const DAY = 86_400_000;
export const HOST = 'mysql.link.example.com';
export const at = (ms: number) => new Date(T0.getTime() + ms);

/** A certificate issued at `issued` for `ttlMs`, back-dated like mint.ts does. */
export function validity(issued: Date, ttlMs: number, renewBefore?: string) {
  const notBefore = new Date(issued.getTime() - BACKDATE_MS);
  const notAfter = new Date(issued.getTime() + ttlMs);
  return { notBefore, notAfter, renewAt: renewalTime(notBefore, notAfter, renewBefore) };
}

export function ca(generation: number, issued = T0, ttlMs = 365 * DAY, version = String(generation)): CaFacts {
  return { generation, version, ...validity(issued, ttlMs) };
}

let serial = 0;
export function leaf(side: Side, caGeneration = 1, issued = T0, ttlMs = 30 * DAY, overrides: Partial<LeafFacts> = {}): LeafFacts {
  serial++;
  return { version: '1', fingerprint: `${side}-${serial}`, ...validity(issued, ttlMs), caGeneration, trust: [caGeneration], ...overrides };
}

export function identity(side: Side): string {
  return `spiffe://${HOST}/meshlink/mysql/${side}`;
}

export function payload(side: Side, overrides: Partial<NonNullable<LeafFacts['payload']>> = {}): NonNullable<LeafFacts['payload']> {
  return { keyMatches: true, dnsNames: [HOST], uris: [identity(side)], issuedBy: [1], trust: [1], foreignTrust: 0, ...overrides };
}

/** A one-sided link at T0: our side's leaf of CA 1, trusting none of our CAs. */
export function oneSided(ours: Side, leafTtlMs: number, caTtlMs: number): RotationFacts {
  const partner: Side = ours === 'client' ? 'server' : 'client';
  const own = { ...leaf(ours, 1, T0, leafTtlMs), trust: [] };
  return stableFacts({
    sides: [ours],
    partner,
    cas: [ca(1, T0, caTtlMs)],
    leaves: { [ours]: own },
    clusters: { [ours]: { status: 'synced', version: own.version, at: T0, caGeneration: 1, trust: [] }, [partner]: { status: 'synced' } } as RotationFacts['clusters'],
  });
}

export function stableFacts(overrides: Partial<RotationFacts> = {}): RotationFacts {
  const server = leaf('server');
  const client = leaf('client');
  return {
    host: HOST,
    sides: ['server', 'client'],
    identity: { server: identity('server'), client: identity('client') },
    cas: [ca(1)],
    signingGeneration: 1,
    phase: 'stable',
    phaseSince: T0,
    leaves: { server, client },
    clusters: {
      server: { status: 'synced', version: server.version, at: T0, caGeneration: 1, trust: [1] },
      client: { status: 'synced', version: client.version, at: T0, caGeneration: 1, trust: [1] },
    },
    retired: [],
    ...overrides,
  };
}

/** What each cluster presents and trusts, for invariant 1 checks on simulated facts. */
export function trustHolds(f: RotationFacts): boolean {
  return SIDES.every((side) => {
    const own = f.clusters[side];
    const peer = f.clusters[peerOf(side)];
    if (own.caGeneration === undefined || !peer.trust) return true;
    return peer.trust.includes(own.caGeneration);
  });
}

/**
 * Applies a step to facts the way the use-case would (new versions, records, phase changes, rollover progress),
 * without a store: for tests of whole sequences of the pure planner.
 */
export function applyStep(f: RotationFacts, step: Step, now: Date, leafTtlMs = 30 * DAY, caTtlMs = 365 * DAY): RotationFacts {
  const next: RotationFacts = structuredClone(f);
  const nextVersion = (side: Side) => String(Number(next.leaves[side]?.version ?? '0') + 1);
  const retire = (role: Side | 'ca', version: string) => next.retired.push({ role, version, since: now.toISOString() });
  switch (step.kind) {
    case 'mint-ca': {
      next.cas.push(ca(step.generation, now, caTtlMs, String(step.generation)));
      if (next.cas.length === 1) next.signingGeneration = step.generation;
      else {
        next.phase = 'trust-added';
        next.phaseSince = now;
      }
      break;
    }
    case 'issue-leaf': {
      const signing = next.cas.find((c) => c.generation === next.signingGeneration)!;
      const ttl = Math.min(leafTtlMs, signing.notAfter.getTime() - now.getTime());
      const old = next.leaves[step.side];
      if (old) retire(step.side, old.version);
      next.leaves[step.side] = { ...leaf(step.side, next.signingGeneration, now, ttl), version: nextVersion(step.side), trust: [...step.trust] };
      break;
    }
    case 'publish-trust': {
      const old = next.leaves[step.side]!;
      retire(step.side, old.version);
      next.leaves[step.side] = { ...old, version: nextVersion(step.side), trust: [...step.trust] };
      break;
    }
    case 'sync': {
      const l = next.leaves[step.side]!;
      next.clusters[step.side] = { status: 'synced', version: l.version, at: now, caGeneration: l.caGeneration, trust: [...l.trust] };
      break;
    }
    case 'switch-signing':
      next.signingGeneration = step.generation;
      break;
    case 'advance-phase':
      next.phase = step.phase;
      next.phaseSince = now;
      break;
    case 'finish-rollover':
      for (const c of next.cas.filter((c) => step.drop.includes(c.generation))) retire('ca', c.version);
      next.cas = next.cas.filter((c) => !step.drop.includes(c.generation));
      next.phase = 'stable';
      next.phaseSince = now;
      break;
    case 'retire-versions': {
      const destroyed = new Set(step.destroy.map((r) => `${r.role}@${r.version}`));
      const disabled = new Set(step.disable.map((r) => `${r.role}@${r.version}`));
      next.retired = next.retired.filter((r) => !destroyed.has(`${r.role}@${r.version}`)).map((r) => (disabled.has(`${r.role}@${r.version}`) ? { ...r, disabled: true } : r));
      break;
    }
    case 'clear-stale-places':
      delete next.stale;
      break;
    case 'complete-force': {
      const forced = { ...next.forced };
      delete forced[step.scope];
      if (forced.ca || forced.leaf) next.forced = forced;
      else delete next.forced;
      break;
    }
    default:
      throw new Error(`not an action: ${step.kind}`);
  }
  // As the use-case records it after every step.
  const marks = rolloverMarks(next);
  if (marks) next.rollover = marks;
  else delete next.rollover;
  return next;
}
