// The rotation use-case on the in-memory store and clusters: what it reads and writes, the checks
// that need the stored payloads, version retirement, a cluster failing mid-rollover, and status.
import { describe, expect, it } from 'vitest';
import { readCa, readCredential, secretIdOf } from '../../shared/app/credentials.js';
import { loadLink } from '../../shared/app/link-record.js';
import { getLink } from '../../shared/app/queries.js';
import { rotateLink } from '../../shared/app/rotate.js';
import { encodeCredential } from '../../shared/app/payloads.js';
import type { LinkState } from '../../shared/link/state.js';
import { inspectCertificate } from '../../shared/pki/inspect.js';
import { mintCa, mintLeaf } from '../../shared/pki/mint.js';
import type { SdsCredential } from '../../shared/pki/types.js';
import { clusterCredential, trustViolations } from '../support/cluster-trust.js';
import { unavailable } from '../support/memory-clusters.js';
import { rotationApp, type RotationApp } from '../support/rotation-app.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

async function edit(app: RotationApp, change: (s: LinkState) => LinkState): Promise<void> {
  const record = (await loadLink({ ...app.deps, store: app.store }, 'mysql'))!;
  record.state = change(record.state);
  await record.save();
}

/** Stores `credential` as the server's current version, as if written by something else. */
async function replaceServerCredential(app: RotationApp, credential: SdsCredential): Promise<void> {
  const version = await app.store.addVersion(secretIdOf(app.deps, 'mysql', 'server'), encodeCredential(credential));
  const s = inspectCertificate(credential['tls.crt']);
  await edit(app, (state) => ({
    ...state,
    leaves: { ...state.leaves, server: { ...state.leaves.server!, version, fingerprint: s.fingerprint, notBefore: s.notBefore.toISOString(), notAfter: s.notAfter.toISOString() } },
    // Looked at now: the worker reads the payloads of a link that is due.
    nextRenewal: app.clock().toISOString(),
  }));
}

describe('a link that is not due', () => {
  it('costs one metadata read: no lease, no payload, no write', async () => {
    const app = rotationApp();
    await app.create();
    app.clock.advance(DAY);
    app.store.reset();
    app.plan.arm(undefined);
    const outcome = await rotateLink(app.deps, 'mysql');
    expect(outcome).toMatchObject({ outcome: 'not-due', steps: [] });
    expect(app.store.calls).toMatchObject({ getSecret: 1, accessVersion: 0, updateAnnotations: 0, addVersion: 0 });
    expect(app.plan.writes).toBe(0);
  });

  it('answers not-found for an unknown link', async () => {
    const app = rotationApp();
    expect(await rotateLink(app.deps, 'nope')).toMatchObject({ outcome: 'not-found' });
  });
});

describe('checks that need the stored payload', () => {
  const cases: [string, (app: RotationApp, current: SdsCredential) => Promise<SdsCredential>, RegExp][] = [
    [
      'a certificate for another host',
      async (app, current) => {
        const state = await app.state();
        const ca = await readCa(app.deps, 'mysql', state.cas[0]!.version);
        const leaf = await mintLeaf({ ca: { certificate: ca.certificate, privateKey: ca.privateKey! }, link: 'mysql', host: 'other.link.example.com', side: 'server', keyAlgorithm: 'ECDSA-P256', ttlMs: 30 * DAY, now: app.clock() });
        return { 'tls.crt': leaf.certificate, 'tls.key': leaf.privateKey, 'ca.crt': current['ca.crt'] };
      },
      /^WrongHost/,
    ],
    [
      'a key that is not the certificate’s',
      async (app, current) => {
        const client = (await readCredential(app.deps, 'mysql', 'client')).credential;
        return { ...current, 'tls.key': client['tls.key'] };
      },
      /^KeyMismatch/,
    ],
    [
      'a certificate from a CA that is not the link’s',
      async (app, current) => {
        const ca = await mintCa({ link: 'mysql', host: 'mysql.link.example.com', keyAlgorithm: 'ECDSA-P256', ttlMs: 365 * DAY, now: app.clock(), generation: 1 });
        const leaf = await mintLeaf({ ca, link: 'mysql', host: 'mysql.link.example.com', side: 'server', keyAlgorithm: 'ECDSA-P256', ttlMs: 30 * DAY, now: app.clock() });
        return { 'tls.crt': leaf.certificate, 'tls.key': leaf.privateKey, 'ca.crt': current['ca.crt'] };
      },
      /^NotIssuedBySigningCa/,
    ],
  ];

  it.each(cases)('re-issues %s, only on that side', async (_name, tamper, reason) => {
    const app = rotationApp();
    await app.create();
    app.clock.advance(DAY);
    const current = (await readCredential(app.deps, 'mysql', 'server')).credential;
    await replaceServerCredential(app, await tamper(app, current));
    const clientBefore = (await app.state()).leaves.client!.fingerprint;

    const outcome = await rotateLink(app.deps, 'mysql');
    expect(outcome.steps).toEqual(['issue-leaf(server)', 'sync(server)']);
    expect(app.log.lines.find((l) => l.message === 'rotation step')).toMatchObject({ reason: expect.stringMatching(reason) });
    const state = await app.state();
    expect(state.leaves.client!.fingerprint).toBe(clientBefore);
    const presented = inspectCertificate(clusterCredential(app.clusters, 'mysql', 'server')!['tls.crt']);
    expect(presented.fingerprint).toBe(state.leaves.server!.fingerprint);
    expect(presented.dnsNames).toEqual(['mysql.link.example.com']);
    expect(trustViolations(app.clusters, 'mysql')).toEqual([]);
  });

  it('re-issues a credential whose recorded version was destroyed by hand', async () => {
    const app = rotationApp();
    await app.create();
    app.clock.advance(DAY);
    const state = await app.state();
    await app.store.destroyVersion(secretIdOf(app.deps, 'mysql', 'client'), state.leaves.client!.version);
    await edit(app, (s) => ({ ...s, nextRenewal: app.clock().toISOString() }));
    const outcome = await rotateLink(app.deps, 'mysql');
    expect(outcome.steps).toEqual(['issue-leaf(client)', 'sync(client)']);
  });
});

describe('superseded versions', () => {
  it('are disabled after the grace period and destroyed after retention, by later runs', async () => {
    const app = rotationApp({ settings: { versionGraceMs: HOUR, versionRetentionMs: DAY } });
    await app.create();
    app.clock.advance(20 * DAY);
    expect((await rotateLink(app.deps, 'mysql')).next).toMatchObject({ reason: 'version-retirement' });
    const states = async () => (await app.versions('server')).map((v) => v.state);
    expect(await states()).toEqual(['ENABLED', 'ENABLED']);

    app.clock.advance(HOUR);
    expect((await rotateLink(app.deps, 'mysql')).steps).toEqual(['retire-versions']);
    expect(await states()).toEqual(['DISABLED', 'ENABLED']);

    app.clock.advance(DAY);
    expect((await rotateLink(app.deps, 'mysql')).steps).toEqual(['retire-versions']);
    expect(await states()).toEqual(['DESTROYED', 'ENABLED']);
    expect((await app.state()).retired).toBeUndefined();
  });

  it('keep the old CA version until the rollover is over, then retire it too', async () => {
    const app = rotationApp({ settings: { rolloverGraceMs: HOUR, versionGraceMs: HOUR, versionRetentionMs: DAY } });
    await app.create({ certificates: { leafTtl: '30d', caTtl: '70d' } });
    await app.drive((s) => s.signingGeneration === 2 && s.phase === 'stable' && !s.retired?.some((r) => r.role === 'ca'), { maxRuns: 40 });
    expect((await app.versions('ca')).map((v) => v.state)).toEqual(['DESTROYED', 'ENABLED']);
  });
});

describe('a cluster failing mid-rollover', () => {
  it('holds the rollover (trust intact) and records the error, then completes once the cluster is back', async () => {
    const app = rotationApp({ settings: { rolloverGraceMs: HOUR, syncRetryMs: 10 * 60_000, versionGraceMs: 30 * DAY, versionRetentionMs: 60 * DAY } });
    await app.create({ certificates: { leafTtl: '30d', caTtl: '70d' } });
    await app.drive((s) => s.cas.length === 2, { maxRuns: 20 }); // the rollover has started
    const client = app.clusters.target('client-cluster');
    client.failure = unavailable('client-cluster');

    const stuck = await app.drive(() => false, { until: new Date(app.clock().getTime() + 6 * HOUR) });
    const state = await app.state();
    expect(state.phase).not.toBe('stable');
    expect(state.lastError).toMatch(/not answering/);
    expect(stuck.at(-1)!.next).toMatchObject({ reason: 'sync-retry(client)' });
    const status = await getLink(app.deps, 'mysql');
    expect(status.client.clusterSecret.lastError).toMatch(/not answering/);
    expect(status.rotation.next).toMatchObject({ step: 'wait', reason: 'sync-retry(client)' });

    client.failure = undefined;
    await app.drive((s) => s.phase === 'stable' && s.signingGeneration === 2);
    expect((await app.state()).lastError).toBeUndefined();
    expect(app.violations).toEqual([]);
  });
});

describe('status during a rollover', () => {
  it('shows the phase, each side’s expiry, renewal, trusted CA generations, last sync and the next step', async () => {
    const app = rotationApp({ settings: { rolloverGraceMs: HOUR } });
    await app.create({ certificates: { leafTtl: '30d', caTtl: '70d' } });
    await app.drive((s) => s.phase === 'trust-added' && s.sync.client.trust?.includes(2) === true, { maxRuns: 20 });
    const status = await getLink(app.deps, 'mysql');
    expect(status.rotation).toMatchObject({ phase: 'trust-added', signingGeneration: 1, next: { step: 'wait', reason: 'rollover-grace(trust-added)' } });
    expect(status.ca.map((c) => [c.generation, c.signing])).toEqual([
      [1, true],
      [2, false],
    ]);
    for (const side of ['client', 'server'] as const) {
      expect(status[side]).toMatchObject({ caGeneration: 1, trustedCaGenerations: [1, 2], clusterSecret: { caGeneration: 1, trustedCaGenerations: [1, 2] } });
      expect(Date.parse(status[side].renewAt!)).toBeLessThan(Date.parse(status[side].notAfter!));
      expect(status[side].clusterSecret.lastSync).toBe(app.clock().toISOString());
    }
  });
});
