// Fuzz: near-valid link specs through POST /links of the real HTTP function. The oracle is the
// pure validation (parseLinkSpec) of the same decoded body: what it refuses must be a 400 naming
// the same fields with nothing written; what it accepts must be created (or refused for another
// link's sake, nothing written), leave the seeded links' files alone, and be deletable.
import fc from 'fast-check';
import { describe, expect } from 'vitest';
import { decodeBody } from '../../functions/http-api.js';
import { parseLinkSpec } from '../../shared/link/spec.js';
import { withField } from '../support/builders.js';
import { encodeSpec, encoding, mutation, mutate, oddClusterRef } from './arbitraries/spec.js';
import {
  defectProperty,
  hasCollidingNames,
  hasMalformedClusterRef,
  hasUnmintableLifetime,
  hasUnreachableClusterKind,
  isOpen,
  sharesHostOnClientCluster,
} from './defects.js';
import { detailPaths, expectNoKeyMaterial, expectRefused, expectWellFormed, itKeepsTheSeedsRotating, linkView, oracleDetails, seedViews, storeView } from './expect.js';
import { fuzzProperty, NEW_LINK, SEED_NAMES, SEEDS, send, sendJson, useWorld, type Reply, type Snapshot, type World } from './harness.js';

const OTHERS = Object.values(SEEDS);

/** The pure verdict on a decoded spec: valid, or the sorted paths the API must name. */
function verdict(doc: unknown): { ok: true } | { ok: false; paths: string[] } {
  try {
    parseLinkSpec(doc);
    return { ok: true };
  } catch (err) {
    return { ok: false, paths: oracleDetails(err).map((d) => d.path).sort() };
  }
}

/** Inputs of an open defect, left to that defect's own property. */
function ofOpenDefect(doc: unknown): boolean {
  return (
    isOpen(1, hasUnmintableLifetime(doc)) ||
    isOpen(2, hasMalformedClusterRef(doc)) ||
    isOpen('N1', hasUnreachableClusterKind(doc)) ||
    isOpen(3, sharesHostOnClientCluster(doc, OTHERS)) ||
    isOpen(4, hasCollidingNames(doc, OTHERS))
  );
}

function post(world: World, doc: unknown, as: 'json' | 'yaml' = 'json'): Promise<Reply> {
  const { contentType, body } = encodeSpec(doc, as);
  return send(world.urls.api, { method: 'POST', path: '/links', headers: { 'content-type': contentType }, body });
}

/** The body as the API decodes it (the property judges the spec, not the encoding). */
function decoded(doc: unknown, as: 'json' | 'yaml'): unknown {
  const { contentType, body } = encodeSpec(doc, as);
  return decodeBody({ method: 'POST', path: '/links', contentType, body: Buffer.from(body) });
}

/** A refused spec: the oracle's fields named, nothing written anywhere. */
async function expectSpecRefused(world: World, res: Reply, before: Snapshot, paths: string[]): Promise<void> {
  expectRefused(res, before, await world.snapshot(), 400);
  expect(res.json.error).toBe('invalid link spec');
  expect(detailPaths(res)).toEqual(paths);
}

/**
 * Posts a decoded spec and checks the answer against the oracle. Returns the answer and the
 * snapshot before it when the link was accepted; undefined when it was refused as it should be:
 * invalid (the oracle's fields named) or valid alone but refused for another link's sake (its
 * gateway port: 400, a certificate-bound field: 409), named, nothing written.
 */
async function postJudged(world: World, doc: unknown, as: 'json' | 'yaml'): Promise<{ res: Reply; before: Snapshot } | undefined> {
  const judged = verdict(doc);
  const before = await world.snapshot();
  const res = await post(world, doc, as);
  expectWellFormed(res);
  expectNoKeyMaterial(world, res);
  if (!judged.ok) {
    await expectSpecRefused(world, res, before, judged.paths);
    return undefined;
  }
  if (res.status >= 400) {
    expectRefused(res, before, await world.snapshot(), [400, 409]);
    expect(detailPaths(res).length).toBeGreaterThan(0);
    return undefined;
  }
  return { res, before };
}

describe('fuzz: link specs through POST /links', () => {
  const world = useWorld();

  fuzzProperty(
    'a new link with one field changed: a 400 naming the field and nothing written, or created beside the seeded links and deletable',
    () =>
      fc.asyncProperty(mutation, encoding, async (m, as) => {
        const doc = decoded(mutate(NEW_LINK, m), as);
        fc.pre(!ofOpenDefect(doc));
        const seeds = await seedViews(world);
        const stored = await storeView(world);
        const accepted = await postJudged(world, doc, as);
        if (!accepted) return;
        const { res } = accepted;
        expect(res.status, res.text).toBe(201);
        expect(await seedViews(world)).toEqual(seeds);
        const name = res.json.name as string;
        const del = await sendJson(world, 'DELETE', `/links/${name}`);
        expect(del.status, del.text).toBe(204);
        expect(await seedViews(world)).toEqual(seeds);
        expect(await storeView(world)).toEqual(stored);
        expect([...(await linkView(world, name)).keys()]).toEqual([]);
      }),
  );

  fuzzProperty(
    'a seeded link updated with one field changed: a 400 naming the field and nothing written, or updated without touching the other link, still rotating, and restorable',
    () =>
      fc.asyncProperty(fc.constantFrom(...SEED_NAMES), mutation, encoding, async (seed, m, as) => {
        fc.pre(m.path !== 'name' && !m.path.startsWith('name.'));
        const doc = decoded(mutate(SEEDS[seed], m), as);
        fc.pre(!ofOpenDefect(doc));
        const others = await seedViews(world, seed);
        const accepted = await postJudged(world, doc, as);
        if (!accepted) return;
        const { res } = accepted;
        expect(res.status, res.text).toBe(200);
        expect(await seedViews(world, seed)).toEqual(others);
        const rotated = await sendJson(world, 'POST', `/links/${seed}:rotate`, { scope: 'leaf' });
        expect(rotated.status, rotated.text).toBe(200);
        expect(rotated.json.completed).toBe(true);
        const restored = await post(world, restoring(seed));
        expect(restored.status, restored.text).toBe(200);
        expect(restored.json.spec).toEqual(parseLinkSpecDocument(restoring(seed)));
        expect(await seedViews(world, seed)).toEqual(others);
        expectNoKeyMaterial(world, rotated, restored);
      }),
  );

  itKeepsTheSeedsRotating(world);
});

/** A seed's spec with its gateway namespaces written out: an update may have moved them, and a
 * spec that leaves them out keeps the namespace a link has. */
function restoring(seed: keyof typeof SEEDS) {
  return withField(withField(SEEDS[seed], 'client.gateway.namespace', 'istio-system'), 'server.gateway.namespace', 'istio-system');
}

/** The spec document the status shows for a spec input (defaults explicit). */
function parseLinkSpecDocument(input: unknown): unknown {
  const { leafTtlMs: _l, caTtlMs: _c, ...certificates } = parseLinkSpec(input).certificates;
  return { ...parseLinkSpec(input), certificates };
}

describe('fuzz: link specs, the open defects', () => {
  defectProperty(
    1,
    'a certificate lifetime that ends past year 9999 is a 400 naming it, on a new link or an update, and nothing is written',
    (world) => {
      const lifetime = fc.integer({ min: 3_000_000, max: 9_999_999 }).chain((ca) =>
        fc.record({ caTtl: fc.constant(`${ca}d`), leafTtl: fc.option(fc.integer({ min: 1, max: Math.floor(ca / 2) }).map((d) => `${d}d`), { nil: undefined }) }),
      );
      return fc.asyncProperty(fc.constantFrom<string>('fuzz', ...SEED_NAMES), lifetime, async (target, certificates) => {
        const base = target === 'fuzz' ? NEW_LINK : SEEDS[target as keyof typeof SEEDS];
        const doc = { ...base, certificates: Object.fromEntries(Object.entries(certificates).filter(([, v]) => v !== undefined)) };
        const before = await world.snapshot();
        const res = await post(world, doc);
        expectRefused(res, before, await world.snapshot(), 400);
        expect(detailPaths(res).every((p) => p.startsWith('certificates.'))).toBe(true);
      });
    },
    [['mysql', { caTtl: '9999999d', leafTtl: undefined }]],
  );

  defectProperty(
    2,
    'a cluster reference that names no cluster (projects/x, kubeconfig:) is a 400 naming the field, and nothing is written',
    (world) => {
      return fc.asyncProperty(fc.constantFrom('client.cluster', 'server.cluster'), oddClusterRef.filter((c) => hasMalformedClusterRef({ client: { cluster: c } })), async (path, ref) => {
        const before = await world.snapshot();
        const res = await post(world, withField(NEW_LINK, path, ref));
        expectRefused(res, before, await world.snapshot(), 400);
        expect(detailPaths(res)).toEqual([path]);
      });
    },
    [['client.cluster', 'projects/x']],
  );

  defectProperty(
    'N1',
    'a cluster of a kind the deployment may not reach (MESHLINK_CLUSTER_ACCESS) is refused naming the field, or the link it made can be deleted',
    (world) => {
      return fc.asyncProperty(fc.constantFrom('client.cluster', 'server.cluster'), oddClusterRef.filter((c) => hasUnreachableClusterKind({ client: { cluster: c } })), async (path, ref) => {
        const before = await world.snapshot();
        const stored = await storeView(world);
        const res = await post(world, withField(NEW_LINK, path, ref));
        expectWellFormed(res);
        if (res.status >= 400) {
          expectRefused(res, before, await world.snapshot());
          expect(detailPaths(res)).toEqual([path]);
          return;
        }
        const del = await sendJson(world, 'DELETE', `/links/${NEW_LINK.name}`);
        expect(del.status, del.text).toBe(204);
        expect(await storeView(world)).toEqual(stored);
      });
    },
    [['client.cluster', 'projects/p/locations/l/clusters/c']],
  );

  defectProperty(
    3,
    "a second link with another link's host on the same client cluster is refused naming host, and nothing is written",
    (world) => {
      return fc.asyncProperty(fc.constantFrom(...SEED_NAMES), fc.stringMatching(/^[a-z][a-z0-9]{0,15}$/), async (seed, name) => {
        fc.pre(!(SEED_NAMES as string[]).includes(name));
        const doc = { ...withField(NEW_LINK, 'host', SEEDS[seed].host), name };
        const before = await world.snapshot();
        const res = await post(world, doc);
        expectRefused(res, before, await world.snapshot(), [400, 409]);
        expect(detailPaths(res)).toEqual(['host']);
      });
    },
    [['mysql', 'a']],
  );

  defectProperty(
    4,
    "a link whose object names are another link's (x-ingress and istio-egressgateway-x on one cluster) is refused naming name, or leaves the other link's objects alone",
    (world) => {
      return fc.asyncProperty(fc.stringMatching(/^[a-z][a-z0-9]{0,12}$/), async (x) => {
        // First's ingress Gateway `istio-egressgateway-<x>-ingress` on server-cluster; second's
        // egress Gateway has the same name there (its client side is on server-cluster).
        const first = { ...withField(withField(NEW_LINK, 'client.port', 4001), 'server.port', 4001), name: `istio-egressgateway-${x}`, host: `first-${x}.example.com` };
        const second = {
          ...withField(withField(withField(withField(NEW_LINK, 'client.cluster', 'server-cluster'), 'server.cluster', 'client-cluster'), 'client.port', 4002), 'server.port', 4002),
          name: `${x}-ingress`,
          host: `second-${x}.example.com`,
        };
        expect((await post(world, first)).status).toBe(201);
        try {
          const kept = await linkView(world, first.name);
          const before = await world.snapshot();
          const res = await post(world, second);
          expectWellFormed(res);
          if (res.status >= 400) {
            expectRefused(res, before, await world.snapshot());
            expect(detailPaths(res)).toEqual(['name']);
          } else {
            expect(await linkView(world, first.name)).toEqual(kept);
            expect((await sendJson(world, 'DELETE', `/links/${second.name}`)).status).toBe(204);
            expect(await linkView(world, first.name)).toEqual(kept);
          }
        } finally {
          await sendJson(world, 'DELETE', `/links/${second.name}`);
          await sendJson(world, 'DELETE', `/links/${first.name}`);
        }
      });
    },
    [['a']],
  );
});
