// Gateway port claims: one link per (server cluster, gateway port), checked in one read, decided
// atomically between links created at once, given up on a port change and on delete, and taken
// over from a link that left one behind (a crash between its steps); over each place claims are
// kept (store secrets, a Cloud Storage bucket).
import { describe, expect, it } from 'vitest';
import { deleteLink } from '../../shared/app/delete.js';
import { loadLink } from '../../shared/app/link-record.js';
import { claimGatewayPort, portClaimId } from '../../shared/app/port-claim.js';
import { applyLink } from '../../shared/app/provision.js';
import { storeLabels } from '../../shared/link/names.js';
import { specInput, withField } from '../support/builders.js';
import { testApp } from '../support/app.js';
import { CLAIM_BACKENDS, CLAIMS_BUCKET, useClaims, type ClaimBackend, type ClaimView } from '../support/claim-backends.js';

const SERVER = 'server-cluster';
const at = (port: number, cluster = SERVER) => ({ cluster, port });

async function claimApp(backend: ClaimBackend) {
  const app = testApp();
  return { ...app, view: await useClaims(backend, app.deps, app.clock) };
}
type ClaimApp = Awaited<ReturnType<typeof claimApp>>;

function holderOf(app: { deps: ClaimApp['deps']; view: ClaimView }, port: number, cluster = SERVER): Promise<string | undefined> {
  return app.view.holderOf(portClaimId(app.deps.settings.secretPrefix, at(port, cluster)));
}

/** A claim made as `holder` would make it, without the rest of a create. */
async function claimAs(app: ClaimApp, holder: string, port: number): Promise<void> {
  await app.view.claims.create(portClaimId(app.deps.settings.secretPrefix, at(port)), { labels: storeLabels(holder, 'port-claim'), annotations: {} });
}

async function refusal(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (err: unknown) => err,
  );
}

describe.each(CLAIM_BACKENDS)('gateway port claims in %s', (backend) => {
  it('a new link takes the claim on its server cluster and gateway port', async () => {
    const app = await claimApp(backend);
    await applyLink(app.deps, specInput());
    expect(await holderOf(app, 13306)).toBe('mysql');
    // Where the backend keeps it, and only there: a bucket's claims are no secrets.
    const claimSecrets = (await app.store.listSecrets({ labels: { 'meshlink-role': 'port-claim' } })).secrets;
    expect(claimSecrets).toHaveLength(app.view.fake ? 0 : 1);
    expect([...(app.view.fake?.objects(CLAIMS_BUCKET).keys() ?? [])]).toEqual(app.view.fake ? [expect.stringMatching(/^meshlink-host-/), expect.stringMatching(/^meshlink-port-/)] : []);
  });

  it('refuses a second link on the same port with a 400 naming the holder, and stores nothing for it', async () => {
    const app = await claimApp(backend);
    await applyLink(app.deps, specInput());
    const err = await refusal(applyLink(app.deps, specInput({}, 'postgres')));
    expect(err).toMatchObject({ code: 'invalid-argument', details: [{ path: 'server.gatewayPort', message: expect.stringMatching(/already used by link mysql on cluster server-cluster/) }] });
    expect(await loadLink(app.deps, 'postgres')).toBeUndefined();
  });

  it('lets the same port serve links on different server clusters', async () => {
    const app = await claimApp(backend);
    await applyLink(app.deps, specInput());
    await applyLink(app.deps, withField(specInput({}, 'postgres'), 'server.cluster', 'server-cluster-2'));
    expect([await holderOf(app, 13306), await holderOf(app, 13306, 'server-cluster-2')]).toEqual(['mysql', 'postgres']);
  });

  it('gives exactly one of two links created at once the port', async () => {
    const app = await claimApp(backend);
    const results = await Promise.allSettled([applyLink(app.deps, specInput()), applyLink(app.deps, specInput({}, 'postgres'))]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost.map((r) => r.reason)).toEqual([expect.objectContaining({ code: 'invalid-argument' })]);
    const winner = (await loadLink(app.deps, 'mysql')) ? 'mysql' : 'postgres';
    expect(await holderOf(app, 13306)).toBe(winner);
  });

  it('gives the old port up on a port change, and another link can take it', async () => {
    const app = await claimApp(backend);
    await applyLink(app.deps, specInput());
    await applyLink(app.deps, withField(specInput(), 'server.gatewayPort', 13307));
    expect([await holderOf(app, 13306), await holderOf(app, 13307)]).toEqual([undefined, 'mysql']);
    await applyLink(app.deps, specInput({}, 'postgres'));
    expect(await holderOf(app, 13306)).toBe('postgres');
  });

  it('gives the port up on delete', async () => {
    const app = await claimApp(backend);
    await applyLink(app.deps, specInput());
    await deleteLink(app.deps, 'mysql');
    expect(await holderOf(app, 13306)).toBeUndefined();
    await applyLink(app.deps, specInput({}, 'postgres'));
    expect(await holderOf(app, 13306)).toBe('postgres');
  });

  describe('a claim its holder left behind', () => {
    async function leftBy(holder: string) {
      const app = await claimApp(backend);
      await claimAs(app, holder, 13306);
      return app;
    }

    it('still counts while it is young: its holder may be about to save the state naming it', async () => {
      const app = await leftBy('ghost');
      expect(await refusal(claimGatewayPort(app.deps, 'mysql', at(13306)))).toMatchObject({ code: 'invalid-argument' });
    });

    it('is taken over once older than a lease when the holder is gone', async () => {
      const app = await leftBy('ghost');
      app.clock.advance(app.deps.settings.leaseMs);
      await applyLink(app.deps, specInput());
      expect(await holderOf(app, 13306)).toBe('mysql');
    });

    it('is taken over once older than a lease when the holder now uses another port', async () => {
      const app = await claimApp(backend);
      await applyLink(app.deps, specInput({}, 'postgres'));
      // As if postgres moved to 13307 and died before giving 13306 up.
      await applyLink(app.deps, withField(specInput({}, 'postgres'), 'server.gatewayPort', 13307));
      await claimAs(app, 'postgres', 13306);
      app.clock.advance(app.deps.settings.leaseMs);
      await applyLink(app.deps, specInput());
      expect(await holderOf(app, 13306)).toBe('mysql');
    });

    it('keeps counting, however old, while the holder still uses the port', async () => {
      const app = await claimApp(backend);
      await applyLink(app.deps, specInput());
      app.clock.advance(10 * app.deps.settings.leaseMs);
      expect(await refusal(applyLink(app.deps, specInput({}, 'postgres')))).toMatchObject({ code: 'invalid-argument' });
    });
  });

  it('a link that holds no claim (made before claims) takes one on its next apply', async () => {
    const app = await claimApp(backend);
    await applyLink(app.deps, specInput());
    const { claims } = app.view;
    await claims.delete((await claims.read(portClaimId(app.deps.settings.secretPrefix, at(13306))))!);
    await applyLink(app.deps, specInput());
    expect(await holderOf(app, 13306)).toBe('mysql');
  });
});
