// Rotation gated on what is served: after a leaf rotation the superseded server version is disabled
// only once the probe saw the new leaf served (or a grace passed: then disabled with a warning in the
// status); a link whose gateway no probe reached keeps today's timing (the version grace alone).
import { describe, expect, it } from 'vitest';
import { loadLink } from '../../shared/app/link-record.js';
import { applyLink } from '../../shared/app/provision.js';
import { getLink } from '../../shared/app/queries.js';
import { forceRotation, rotateLink } from '../../shared/app/rotate.js';
import type { ProbeRecord } from '../../shared/link/probe.js';
import { testApp } from '../support/app.js';
import { specInput } from '../support/builders.js';

const HOUR = 3_600_000;

/** A link whose leaves were rotated, the old server leaf's fingerprint, and a way to put a probe result in its state. */
async function rotated() {
  const app = testApp({ settings: { versionGraceMs: HOUR, servedGraceMs: 24 * HOUR } });
  await applyLink(app.deps, specInput({ server: { cluster: 'server-cluster', service: 'mysql.default.svc.cluster.local', port: 3306, address: '203.0.113.7' } }));
  const oldServer = (await getLink(app.deps, 'mysql')).server.fingerprint!;
  await forceRotation(app.deps, 'mysql', 'leaf');
  const newServer = (await getLink(app.deps, 'mysql')).server.fingerprint!;
  /** Records a probe made now that saw `fingerprint` served. */
  const probed = async (fingerprint: string) => {
    const record = (await loadLink(app.deps, 'mysql'))!;
    const at = app.clock().toISOString();
    const probe: ProbeRecord = { at, since: at, outcome: 'ok', target: '203.0.113.7:13306', latencyMs: 1, served: { fingerprint, notAfter: at, subject: 'CN=x', subjectAltNames: [] }, current: fingerprint === newServer };
    record.state = { ...record.state, probe };
    await record.save();
  };
  const serverRetired = async () => (await loadLink(app.deps, 'mysql'))!.state.retired!.filter((r) => r.role === 'server');
  return { app, oldServer, newServer, probed, serverRetired };
}

describe('retiring the superseded server leaf version', () => {
  it('no probe reached the gateway: disabled after the version grace, as before', async () => {
    const { app, serverRetired } = await rotated();
    app.clock.advance(HOUR + 1);
    await rotateLink(app.deps, 'mysql');
    expect((await serverRetired()).every((r) => r.disabled)).toBe(true);
  });

  it('the probe still sees the old leaf served: kept enabled past the version grace, with the wait in the plan', async () => {
    const { app, oldServer, probed, serverRetired } = await rotated();
    await probed(oldServer);
    app.clock.advance(HOUR + 1);
    await rotateLink(app.deps, 'mysql');
    const kept = (await serverRetired()).filter((r) => !r.disabled);
    expect(kept).toHaveLength(1);
    const status = await getLink(app.deps, 'mysql');
    expect(status.rotation.next?.at).toBe(new Date(Date.parse(kept[0]!.since) + 24 * HOUR).toISOString());
    expect(status.rotation.warning).toBeUndefined();
  });

  it('the probe sees the new leaf served: disabled after the version grace', async () => {
    const { app, newServer, probed, serverRetired } = await rotated();
    await probed(newServer);
    app.clock.advance(HOUR + 1);
    await rotateLink(app.deps, 'mysql');
    expect((await serverRetired()).every((r) => r.disabled)).toBe(true);
  });

  it('the old leaf still served when the served grace ends: disabled anyway, and a warning in the status', async () => {
    const { app, oldServer, probed, serverRetired } = await rotated();
    await probed(oldServer);
    app.clock.advance(24 * HOUR + 1);
    await rotateLink(app.deps, 'mysql');
    expect((await serverRetired()).every((r) => r.disabled)).toBe(true);
    expect((await getLink(app.deps, 'mysql')).rotation.warning).toMatch(/gateway was last seen serving a server leaf other than the current one/);
  });
});

describe('a CA rollover dropping the old CA', () => {
  /** A link in the middle of a forced CA rollover: both leaves from the new CA, the old CA still trusted. */
  async function switched() {
    const { app, oldServer, probed } = await rotated();
    await forceRotation(app.deps, 'mysql', 'ca');
    for (let i = 0; i < 20 && (await getLink(app.deps, 'mysql')).phase !== 'leaves-switched'; i++) {
      app.clock.advance(HOUR + 1);
      await rotateLink(app.deps, 'mysql');
    }
    const status = await getLink(app.deps, 'mysql');
    expect(status.phase).toBe('leaves-switched');
    return { app, oldServer, probed, current: status.server.fingerprint! };
  }
  const drive = async (app: Awaited<ReturnType<typeof switched>>['app']) => {
    app.clock.advance(HOUR + 1);
    await rotateLink(app.deps, 'mysql');
    return getLink(app.deps, 'mysql');
  };

  it('no probe since the switch saw the current leaf: the old CA stays trusted past the grace, until a probe sees it', async () => {
    const { app, oldServer, probed, current } = await switched();
    await probed(oldServer); // the gateway still serves a leaf of the old CA
    const waiting = await drive(app);
    expect(waiting.phase).toBe('leaves-switched');
    expect(waiting.ca).toHaveLength(2);
    expect((await drive(app)).ca).toHaveLength(2); // and an hour later still

    await probed(current);
    const done = await drive(app);
    expect(done.phase).toBe('stable');
    expect(done.ca).toHaveLength(1);
  });

  it('the probe saw the current leaf: the old CA goes after the grace, as without a probe', async () => {
    const { app, probed, current } = await switched();
    await probed(current);
    expect((await drive(app)).ca).toHaveLength(1);
  });

  it('the old leaf still served when the served grace ends: the old CA goes anyway, with a warning logged', async () => {
    const { app, oldServer, probed } = await switched();
    await probed(oldServer);
    app.clock.advance(25 * HOUR + 2); // the rollover grace, then the served grace
    await rotateLink(app.deps, 'mysql');
    expect((await getLink(app.deps, 'mysql')).ca).toHaveLength(1);
    expect(app.log.lines.filter((l) => l.severity === 'WARNING').map((l) => String(l.reason))).toContainEqual(expect.stringMatching(/the old CA was dropped after the served grace anyway/));
  });
});
