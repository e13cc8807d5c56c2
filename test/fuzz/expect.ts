// What every fuzzed request must show: a 4xx with a JSON error (field paths for spec errors),
// never a 5xx, no key material in any answer or log, nothing changed by a refusal, the seeded
// links untouched by another link's request, and the seeded links still rotating.
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { MeshlinkError } from '../../shared/errors.js';
import { listAllSecrets } from '../../shared/store/port.js';
import { objectNames, egressServicePortName } from '../../shared/link/names.js';
import { changedPaths, SEED_NAMES, sendJson, type Reply, type Snapshot, type World } from './harness.js';

// A key's PEM armour: key bytes come inside it. (An error may name a block's label, e.g. "malformed PEM PRIVATE KEY block".)
const KEY_MATERIAL = /-----(BEGIN|END) [A-Z ]*PRIVATE KEY-----/;

/** No answer and no log line so far holds key material. */
export function expectNoKeyMaterial(world: World, ...replies: Reply[]): void {
  for (const r of replies) expect(r.text).not.toMatch(KEY_MATERIAL);
  expect(world.logs.filter((l) => KEY_MATERIAL.test(l))).toEqual([]);
}

/** Not a 5xx, and a 4xx says why in JSON (`error`), without a stack trace. */
export function expectWellFormed(reply: Reply, options: { bareParserError?: boolean } = {}): void {
  expect(reply.status, reply.text).toBeGreaterThanOrEqual(200);
  expect(reply.status, reply.text).toBeLessThan(500);
  expect(reply.text).not.toMatch(/\bat .+:\d+:\d+|<html|<!DOCTYPE/i);
  if (reply.status < 400) return;
  // Node's HTTP parser refuses a broken frame (a lying Content-Length, a bad method token) with a
  // bare 400 before any function runs: allowed only where the request was built broken.
  if (options.bareParserError && reply.status === 400 && reply.text === '') return;
  expect(reply.contentType, reply.text).toMatch(/^application\/json/);
  expect(typeof reply.json?.error, reply.text).toBe('string');
}

/** A refusal: a well-formed 4xx (optionally this status) and a state left exactly as it was. */
export function expectRefused(reply: Reply, before: Snapshot, after: Snapshot, status?: number | number[], options?: { bareParserError?: boolean }): void {
  expectWellFormed(reply, options);
  expect(reply.status, reply.text).toBeGreaterThanOrEqual(400);
  if (status !== undefined) expect([status].flat(), reply.text).toContain(reply.status);
  expect(changedPaths(before, after)).toEqual([]);
}

/** The details of the error a spec gets from the pure validation, as the API should answer them. */
export function oracleDetails(err: unknown): { path: string; message: string }[] {
  if (err instanceof MeshlinkError) return err.details;
  throw err;
}

/** Paths of an answer's `details`, sorted. */
export function detailPaths(reply: Reply): string[] {
  const details = reply.json?.details;
  expect(Array.isArray(details), reply.text).toBe(true);
  return (details as { path: unknown }[]).map((d) => {
    expect(typeof d.path).toBe('string');
    return d.path as string;
  }).sort();
}

type ClusterDoc = { metadata?: { labels?: Record<string, string> }; spec?: { ports?: { name: string }[] } };
/** Parsed cluster files by text: most files do not change from one request to the next. */
const parsed = new Map<string, ClusterDoc>();
function parsedDoc(text: string): ClusterDoc {
  let doc = parsed.get(text);
  if (!doc) parsed.set(text, (doc = parseYaml(text) as ClusterDoc));
  return doc;
}

/**
 * The store's secrets with these labels (all without), as its port shows them: the local store
 * keeps every secret in one journal file, which a create and delete leave longer.
 */
export async function storeView(world: World, labels: Record<string, string> = {}): Promise<Map<string, string>> {
  const view = new Map<string, string>();
  const { store } = world.deps;
  for await (const meta of listAllSecrets(store, { labels })) {
    const versions = await store.listVersions(meta.id);
    view.set(`store/${meta.id}`, JSON.stringify({ ...meta, versions }));
    for (const v of versions.filter((v) => v.state === 'ENABLED')) view.set(`store/${meta.id}/${v.version}`, new TextDecoder().decode((await store.accessVersion(meta.id, v.version)).payload));
  }
  return view;
}

/**
 * What belongs to one link in the world's files: its store secrets (by label), its objects in the
 * cluster directories (by label) and its entries in the gateway Services' ports patches.
 */
export async function linkView(world: World, link: string): Promise<Map<string, string>> {
  const view = await storeView(world, { 'meshlink-link': link });
  // The link's ingress port is its own wherever it is; the egress port is shared by every link
  // through an egress gateway: it counts on the default egress gateway Service beside the link's objects.
  const ingressPort = objectNames(link).ingressServicePort;
  const egressPort = egressServicePortName(15443);
  const clustersDir = join(world.stateDir, 'clusters');
  const files = (await readdir(clustersDir, { recursive: true })).filter((f) => f.endsWith('.yaml')).sort();
  const docs = new Map<string, { text: string; doc: ClusterDoc }>();
  await Promise.all(
    files.map(async (file) => {
      const text = await readFile(join(clustersDir, file), 'utf8');
      docs.set(file, { text, doc: parsedDoc(text) });
    }),
  );
  // Where the link's client side is: only there does the shared egress port count as the link's.
  const clientPlaces = new Set<string>();
  for (const [file, { text, doc }] of docs) {
    if (doc.metadata?.labels?.['meshlink.io/link'] !== link) continue;
    view.set(`clusters/${file}`, text);
    if (doc.metadata?.labels?.['meshlink.io/side'] === 'client') clientPlaces.add(dirname(file));
  }
  for (const [file, { doc }] of docs) {
    if (!file.endsWith('.ports-patch.yaml')) continue;
    const egress = clientPlaces.has(dirname(file)) && file.endsWith('/service-istio-egressgateway.ports-patch.yaml');
    for (const p of doc.spec?.ports ?? []) if (p.name === ingressPort || (egress && p.name === egressPort)) view.set(`clusters/${file}#${p.name}`, JSON.stringify(p));
  }
  return view;
}

/** Every seeded link's view. */
export async function seedViews(world: World, except?: string): Promise<Record<string, Map<string, string>>> {
  const views: Record<string, Map<string, string>> = {};
  for (const name of SEED_NAMES) if (name !== except) views[name] = await linkView(world, name);
  return views;
}

/** The world holds exactly the seeded links, and a forced leaf rotation of each succeeds. */
export async function expectSeedsRotate(world: World): Promise<void> {
  const list = await sendJson(world, 'GET', '/links');
  expect(list.status).toBe(200);
  expect(list.json.links.map((l: { name: string }) => l.name).sort()).toEqual([...SEED_NAMES].sort());
  for (const name of SEED_NAMES) {
    const before = await sendJson(world, 'GET', `/links/${name}`);
    const res = await sendJson(world, 'POST', `/links/${name}:rotate`, { scope: 'leaf' });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ outcome: 'rotated', completed: true, status: { client: { sync: { status: 'synced' } }, server: { sync: { status: 'synced' } } } });
    expect(res.json.status.client.fingerprint).not.toBe(before.json.client.fingerprint);
    expectNoKeyMaterial(world, before, res);
  }
}

/** The last test of a world: after all that input, its seeded links are there and rotate. */
export function itKeepsTheSeedsRotating(world: World): void {
  it('the seeded links are all there and still rotate', () => expectSeedsRotate(world));
}
