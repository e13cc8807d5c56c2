// The probe record kept in the link's state: bounded whatever a server presents, `since` kept while
// the verdict stays, and which changes the sweep writes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LinkState } from '../../shared/link/state.js';
import type { ProbeObservation } from '../../shared/probe/port.js';
import { probeRecord, sweepRecords, type ProbeTarget } from '../../shared/link/probe.js';

const TARGET: ProbeTarget = { address: '203.0.113.7', port: 13306, servername: 'mysql.link.example.com', subjectAltNames: ['spiffe://x'], partner: false };
const STATE = { leaves: { server: { fingerprint: 'a'.repeat(64) } } } as unknown as LinkState;
const T0 = new Date('2026-12-01T00:00:00Z');
const T1 = new Date('2026-12-01T00:15:00Z');

function observation(overrides: Partial<ProbeObservation> = {}): ProbeObservation {
  return { ok: true, latencyMs: 3, served: { fingerprint: 'a'.repeat(64), notAfter: '2026-12-31T00:00:00.000Z', subject: 'CN=x', subjectAltNames: ['spiffe://x'] }, ...overrides };
}

describe('probeRecord', () => {
  it('stays under 4 KiB whatever subject, SANs and error text the server end produces', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 5000 }), fc.array(fc.string({ maxLength: 2000 }), { maxLength: 200 }), fc.string({ maxLength: 5000 }), (subject, sans, message) => {
        const record = probeRecord(TARGET, observation({ ok: false, error: { kind: 'handshake', message }, served: { fingerprint: 'b'.repeat(64), notAfter: T0.toISOString(), subject, subjectAltNames: sans } }), STATE, T0, undefined);
        expect(JSON.stringify(record).length).toBeLessThan(4096);
      }),
    );
  });

  it('current: the served fingerprint is the stored server leaf', () => {
    expect(probeRecord(TARGET, observation(), STATE, T0, undefined).current).toBe(true);
    expect(probeRecord(TARGET, observation({ served: { ...observation().served!, fingerprint: 'c'.repeat(64) } }), STATE, T0, undefined).current).toBe(false);
  });

  it('keeps `since` while the verdict is the same, and starts it again when it changes', () => {
    const first = probeRecord(TARGET, observation(), STATE, T0, undefined);
    const same = probeRecord(TARGET, observation({ latencyMs: 9 }), STATE, T1, first);
    expect(same).toMatchObject({ at: T1.toISOString(), since: T0.toISOString(), latencyMs: 9 });
    const failed = probeRecord(TARGET, observation({ ok: false, error: { kind: 'refused', message: 'ECONNREFUSED' } }), STATE, T1, first);
    expect(failed.since).toBe(T1.toISOString());
  });
});

describe('sweepRecords', () => {
  const ok = probeRecord(TARGET, observation(), STATE, T0, undefined);
  it.each([
    ['a first result', undefined, ok, true],
    ['the same verdict again (latency and time aside)', ok, probeRecord(TARGET, observation({ latencyMs: 50 }), STATE, T1, ok), false],
    ['another served leaf', ok, probeRecord(TARGET, observation({ served: { ...observation().served!, fingerprint: 'd'.repeat(64) } }), STATE, T1, ok), true],
    ['a link never probed that cannot be', undefined, probeRecord({ skip: 'no address' }, undefined, STATE, T0, undefined), false],
  ])('%s: %s', (_what, previous, next, writes) => {
    expect(sweepRecords(previous, next)).toBe(writes);
  });
});
