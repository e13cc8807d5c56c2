// The conditions of `meshlink check`, one by one, on statuses built here.
import { describe, expect, it } from 'vitest';
import type { LinkStatus } from '../../shared/app/status.js';
import { checkLine, cleanupCheck, issuerChecks, renewalCheck, syncedCheck } from '../../shared/cli/checks.js';

const NOW = new Date('2026-12-06T12:00:00Z');
const days = (n: number) => new Date(NOW.getTime() + n * 86_400_000).toISOString();

function side(cluster: string, over: Record<string, unknown> = {}) {
  return { cluster, namespace: 'istio-system', credentialName: `meshlink-x-${cluster}`, notAfter: days(29), renewAt: days(19), fingerprint: 'f', caGeneration: 1, trustedCaGenerations: [1], clusterSecret: {}, sync: { status: 'synced' }, ...over };
}

function link(over: Record<string, unknown> = {}): LinkStatus {
  return {
    name: 'mysql',
    host: 'mysql.link.example.com',
    protocol: 'TCP',
    phase: 'stable',
    ca: [{ generation: 1, notAfter: days(364), renewAt: days(243), fingerprint: 'c', signing: true }],
    rotation: { phase: 'stable', phaseSince: days(-1), signingGeneration: 1, retiredVersions: 0, next: { step: 'done', at: days(19), reason: 'renewal' } },
    client: side('client-cluster'),
    server: side('server-cluster'),
    createdAt: days(-1),
    updatedAt: days(-1),
    spec: {},
    ...over,
  } as LinkStatus;
}

describe('synced', () => {
  it('passes with both sides synced', () => {
    expect(syncedCheck(link())).toMatchObject({ status: 'ok', subject: 'link/mysql' });
  });
  it('fails naming each side that is not, with its error', () => {
    const l = link({ server: side('server-cluster', { sync: { status: 'error', error: 'forbidden' } }), client: side('c', { sync: { status: 'pending' } }) });
    expect(checkLine(syncedCheck(l))).toBe('× link/mysql: client side is pending; server side is error: forbidden');
  });
});

describe('renewal', () => {
  const inWindow = side('client-cluster', { renewAt: days(-1), notAfter: days(9) });
  it('passes while nothing is in its renewal window', () => {
    expect(renewalCheck(link(), NOW).status).toBe('ok');
  });
  it.each([
    ['a step due now', { step: 'issue-leaf(client)', reason: 'LeafNearingExpiry' }],
    ['a wait (a rollover grace)', { step: 'wait', at: days(1), reason: 'rollover-grace' }],
  ])('passes for a credential in its window with %s', (_what, next) => {
    const l = link({ client: inWindow, rotation: { ...link().rotation, next } });
    expect(renewalCheck(l, NOW).status).toBe('ok');
  });
  it.each([
    ['nothing to do', { step: 'done', at: days(19), reason: 'renewal' }],
    ['blocked', { step: 'blocked', reason: 'syncing now would present a certificate the peer does not trust' }],
    ['no step at all', undefined],
  ])('fails for a credential in its window when the rotation has %s', (_what, next) => {
    const l = link({ client: inWindow, rotation: { ...link().rotation, next } });
    const r = renewalCheck(l, NOW);
    expect(r.status).toBe('failed');
    expect(r.message).toMatch(/^client certificate is in its renewal window \(expires in 9d\) and no renewal is scheduled/);
  });
  it('fails for an expired CA even with a step scheduled', () => {
    const l = link({ ca: [{ generation: 1, notAfter: days(-2), renewAt: days(-100), fingerprint: 'c', signing: true }], rotation: { ...link().rotation, next: { step: 'mint-ca(2)', reason: 'CaExpired' } } });
    expect(renewalCheck(l, NOW)).toMatchObject({ status: 'failed', message: 'CA generation 1 expired 2d ago' });
  });
});

describe('cleanup', () => {
  it('fails while a moved side left objects or a port behind', () => {
    const l = link({ pendingCleanup: [{ what: 'objects', side: 'server', cluster: 'old', namespace: 'gw' }, { what: 'port', cluster: 'old', namespace: 'gw', service: 'ingress' }] });
    expect(checkLine(cleanupCheck(l))).toBe('× link/mysql: pending cleanup: server objects left in old/gw, a port left on old/gw/ingress');
    expect(cleanupCheck(link()).status).toBe('ok');
  });
});

describe('issuer validity', () => {
  const using = (name: string, issuer: string, leafDays: number) => link({ name, spec: { issuer }, client: side('c', { notAfter: days(leafDays) }), server: side('s', { notAfter: days(leafDays) }) });
  it('is skipped on a server without issuers', () => {
    expect(issuerChecks('unsupported', [link()])).toEqual([{ check: 'issuer-validity', subject: 'issuers', status: 'skipped', message: 'not supported by this server' }]);
  });
  it('passes for an issuer that outlives the leaves of its links, fails for one that does not', () => {
    const results = issuerChecks(
      [
        { name: 'corp', notAfter: days(100) },
        { name: 'short', notAfter: days(10) },
      ],
      [using('a', 'corp', 29), using('b', 'short', 29), using('c', 'short', 5)],
    );
    expect(results.map(checkLine)).toEqual(['√ issuer/corp: valid longer than the leaves of its 1 link(s)', '× issuer/short: expires before a leaf of link b']);
  });
});
