// A link's issuer changes (none -> bundle, bundle -> another, bundle -> none) or its issuer's
// bundle is replaced (a new root, or a new issuing CA under the same root): the link rolls over to
// a CA under what it names now with the CA rollover's phases. Every handshake verifies (chain,
// dates included) after every single write, and a crash after any write of the rollover is
// completed by the next run with one new CA. openssl-made roots, as a user would import.
import { describe, expect, it } from 'vitest';
import { getIssuer, issuerTarget, putIssuerBundle, putIssuerReference } from '../../shared/app/issuers.js';
import { forceRotation } from '../../shared/app/rotate.js';
import { SIDES } from '../../shared/link/names.js';
import type { LinkState } from '../../shared/link/state.js';
import { splitPemBundle } from '../../shared/pki/inspect.js';
import { certificateFacts } from '../../shared/pki/issuer-bundle.js';
import { dueReason, metadataStep } from '../../shared/rotation/due.js';
import { clusterCredential } from '../support/cluster-trust.js';
import { opensslIntermediate, opensslRoot, pemBundle, type OpensslCa } from '../support/openssl-ca.js';
import { rotationApp, type RotationApp } from '../support/rotation-app.js';

const HOUR = 3_600_000;
// Made when the file is collected: the crash points are counted from a baseline run then.
const rootA = opensslRoot('/CN=Bank Root A');
const rootB = opensslRoot('/CN=Bank Root B');
const bundleA = pemBundle(opensslIntermediate(rootA, '/CN=Bank Mesh CA A'), rootA);
const bundleA2 = pemBundle(opensslIntermediate(rootA, '/CN=Bank Mesh CA A2'), rootA);
const bundleB = pemBundle(opensslIntermediate(rootB, '/CN=Bank Mesh CA B'), rootB);

const fingerprint = (ca: OpensslCa) => certificateFacts(ca.certificate).fingerprint;
/** The certificates each cluster's ca.crt holds now, by fingerprint. */
const clusterAnchors = (app: RotationApp) => SIDES.map((side) => splitPemBundle(clusterCredential(app.clusters, 'mysql', side)!['ca.crt']).map((pem) => certificateFacts(pem).fingerprint));
const rolledTo = (generation: number) => (s: LinkState) => s.phase === 'stable' && s.signingGeneration === generation && s.cas.length === 1 && SIDES.every((side) => s.sync[side].version === s.leaves[side]?.version);

async function linkWith(issuer?: string): Promise<RotationApp> {
  const app = rotationApp({ start: new Date(Date.now() + 60_000).toISOString(), handshakes: true, settings: { rolloverGraceMs: HOUR, versionGraceMs: 30 * 24 * HOUR, versionRetentionMs: 60 * 24 * HOUR } });
  await putIssuerBundle(app.deps, 'a', bundleA);
  await putIssuerBundle(app.deps, 'b', bundleB);
  await app.create(issuer ? { issuer } : {});
  app.violations.length = 0; // creation writes one side's Secret before the other's
  return app;
}

const changes: { name: string; from?: string; change: (app: RotationApp) => Promise<unknown>; anchors: () => string[] }[] = [
  { name: 'none -> bundle (spec)', change: (app) => app.create({ issuer: 'a' }), anchors: () => [fingerprint(rootA)] },
  { name: 'bundle -> another bundle (spec)', from: 'a', change: (app) => app.create({ issuer: 'b' }), anchors: () => [fingerprint(rootB)] },
  { name: 'bundle -> none (spec)', from: 'a', change: (app) => app.create({}), anchors: () => [] },
  { name: 'bundle replaced under a new root (PUT /issuers)', from: 'a', change: (app) => putIssuerBundle(app.deps, 'a', bundleB), anchors: () => [fingerprint(rootB)] },
];

describe('a link whose issuer changes rolls over to it', () => {
  it.each(changes)('$name: old and new trusted, then new leaves, then the old dropped; every handshake verifies after every write', async ({ from, change, anchors }) => {
    const app = await linkWith(from);
    const before = await app.state();
    expect(dueReason(before, 'mysql', app.clock(), app.deps.settings)).toBeUndefined();
    await change(app);
    const seen: string[][][] = [];
    const runs = await app.drive((s) => (seen.push(clusterAnchors(app)), rolledTo(2)(s)));
    expect(runs.flatMap((r) => r.steps).filter((s) => /mint|switch|advance|finish/.test(s))).toEqual(['mint-ca(2)', 'switch-signing(2)', 'advance-phase', 'finish-rollover']);
    expect(runs[0]!.reason).toMatch(/^IssuerChanged: /);
    expect(app.violations).toEqual([]);
    const state = await app.state();
    expect(state.cas[0]!.anchors ?? []).toEqual(anchors());
    // Both roots (or CAs) were trusted together on both sides at some point, then only the new.
    expect(seen.some((held) => held.every((h) => h.length === 2))).toBe(true);
    const last = clusterAnchors(app);
    expect(last).toEqual(anchors().length ? [anchors(), anchors()] : [[state.cas[0]!.fingerprint], [state.cas[0]!.fingerprint]]);
    // Nothing more to do: the new CA is under what the link names.
    expect(dueReason(state, 'mysql', app.clock(), app.deps.settings)).toBeUndefined();
  });

  it('a new issuing CA under the same root re-issues the link CA without a trust change and without waits', async () => {
    const app = await linkWith('a');
    await putIssuerBundle(app.deps, 'a', bundleA2);
    const start = app.clock().getTime();
    const seen: string[][][] = [];
    await app.drive((s) => (seen.push(clusterAnchors(app)), rolledTo(2)(s)));
    expect(app.violations).toEqual([]);
    // Every ca.crt held the root A alone throughout.
    expect(seen.every((held) => held.every((h) => h.length === 1 && h[0] === fingerprint(rootA)))).toBe(true);
    const chain = splitPemBundle(clusterCredential(app.clusters, 'mysql', 'server')!['tls.crt']).map((pem) => certificateFacts(pem).subject);
    expect(chain[2]).toBe('CN=Bank Mesh CA A2');
    // The roots did not change, so the rollover waited for no grace.
    expect(app.clock().getTime() - start).toBeLessThan(HOUR);
  });
});

describe('crash at every write of a rollover to a new root', async () => {
  const rollover = async (crashAt?: number) => {
    const app = await linkWith('a');
    await putIssuerBundle(app.deps, 'a', bundleB);
    app.plan.arm(crashAt);
    await app.drive(rolledTo(2));
    return app;
  };
  const baseline = await rollover();
  const writes = baseline.plan.writes;

  it('takes writes, each of which is a crash point below', () => {
    expect(writes).toBeGreaterThan(10);
    expect(baseline.violations).toEqual([]);
  });

  it.each(Array.from({ length: writes }, (_, i) => i + 1))('crash after write %i: one new CA under the new root, trust held throughout', async (n) => {
    const app = await rollover(n);
    expect(app.plan.crashes).toBe(1);
    expect(app.violations).toEqual([]);
    const state = await app.state();
    expect(state.cas.map((c) => [c.generation, c.anchors])).toEqual([[2, [fingerprint(rootB)]]]);
    expect((await app.versions('ca')).length).toBe(2);
    expect(clusterAnchors(app)).toEqual([[fingerprint(rootB)], [fingerprint(rootB)]]);
  });
});

describe('an issuer of type secretManager follows its secret', () => {
  it('a new bundle found there when a link CA is minted is recorded; the other links roll over to it, the first not again', async () => {
    const app = rotationApp({ start: new Date(Date.now() + 60_000).toISOString(), handshakes: true, settings: { rolloverGraceMs: HOUR, forcedRolloverGraceMs: 60_000 } });
    // The organisation's secret: locally, the store stands for its project.
    await app.memory.createSecret('mesh-bundle', { labels: {}, annotations: {} });
    await app.memory.addVersion('mesh-bundle', Buffer.from(bundleA));
    await putIssuerReference(app.deps, 'corp', { type: 'secretManager', secret: 'projects/acme/secrets/mesh-bundle' });
    await app.create({ issuer: 'corp' });
    await app.create({ issuer: 'corp', server: { cluster: 'server-cluster', service: 'pg.default.svc.cluster.local', port: 5432 } }, 'pg');
    app.violations.length = 0; // creation writes one side's Secret before the other's (mysql's handshakes are checked)
    // The organisation rotates its secret to a new root, without a PUT: nothing is due yet.
    await app.memory.addVersion('mesh-bundle', Buffer.from(bundleB));
    expect(dueReason(await app.state('pg'), 'pg', app.clock(), app.deps.settings, await issuerTarget(app.deps, 'corp'))).toBeUndefined();
    // mysql's forced CA rollover mints under the new bundle, and records it.
    await forceRotation(app.deps, 'mysql', 'ca');
    await app.drive(rolledTo(2));
    expect((await getIssuer(app.deps, 'corp')).root?.fingerprint).toBe(fingerprint(rootB));
    expect(dueReason(await app.state('mysql'), 'mysql', app.clock(), app.deps.settings, await issuerTarget(app.deps, 'corp'))).toBeUndefined();
    const pg = await app.state('pg');
    expect(metadataStep({ ...pg, nextRenewal: new Date(8.64e15).toISOString() }, 'pg', app.clock(), app.deps.settings, await issuerTarget(app.deps, 'corp')).reason).toMatch(/^IssuerChanged: /);
    const runs = await app.drive(rolledTo(2), { name: 'pg' });
    expect(runs.flatMap((r) => r.steps)).toContain('mint-ca(2)');
    expect((await app.state('pg')).cas[0]!.anchors).toEqual([fingerprint(rootB)]);
    expect(app.violations).toEqual([]);
  });
});
