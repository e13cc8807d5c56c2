// Power loss under the local store's journal: random store operations, the file as a power loss
// could leave it at any point of them (every byte an fdatasync had covered kept; what came after
// cut anywhere and partly garbled or zeroed; an erasure not synced yet there or not), then reopened.
// The reopened store must be the model's state after the acknowledged operations, or after the
// one in flight too; never a version without its payload, never an erased payload in the file.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { manualClock } from '../support/clock.js';
import { InMemoryStore } from '../support/memory-store.js';
import { MeshlinkError } from '../../shared/errors.js';
import { LocalFileStore } from '../../shared/store/local-file-store.js';
import { nodeJournalFs, type JournalFs } from '../../shared/store/journal-file.js';
import { listAllSecrets, type SecretStore } from '../../shared/store/port.js';

type Op =
  | { kind: 'create' | 'add' | 'delete'; id: string }
  | { kind: 'update'; id: string; value: string }
  | { kind: 'disable' | 'destroy'; id: string; version: number };

const id = fc.constantFrom('a', 'b');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('create' as const), id }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('add' as const), id }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('update' as const), id, value: fc.string({ maxLength: 12 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constantFrom('disable' as const, 'destroy' as const), id, version: fc.integer({ min: 1, max: 3 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), id }), weight: 1 },
);

const base = fs.existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

/** Runs `op`; its outcome is 'ok' or the error's code. */
async function run(store: SecretStore, op: Op, payload: Uint8Array): Promise<string> {
  try {
    if (op.kind === 'create') await store.createSecret(op.id, { labels: { n: 'x' }, annotations: {} });
    if (op.kind === 'add') await store.addVersion(op.id, payload);
    if (op.kind === 'update') await store.updateAnnotations(op.id, { v: op.value }, (await store.getSecret(op.id)).etag);
    if (op.kind === 'disable') await store.disableVersion(op.id, String(op.version));
    if (op.kind === 'destroy') await store.destroyVersion(op.id, String(op.version));
    if (op.kind === 'delete') await store.deleteSecret(op.id);
    return 'ok';
  } catch (err) {
    if (err instanceof MeshlinkError) return err.code;
    throw err;
  }
}

/** Every secret with its versions and the payloads of its enabled ones (a missing payload throws). */
async function dump(store: SecretStore, etags = true): Promise<string> {
  const out = [];
  for await (const meta of listAllSecrets(store, { labels: {} })) {
    const versions = await store.listVersions(meta.id);
    const payloads: Record<string, string> = {};
    for (const v of versions) if (v.state === 'ENABLED') payloads[v.version] = decode((await store.accessVersion(meta.id, v.version)).payload);
    out.push({ ...meta, etag: etags ? meta.etag : '', versions, payloads });
  }
  return JSON.stringify(out.sort((x, y) => (x.id < y.id ? -1 : 1)));
}

/** The file as it was after one write or fdatasync, what the last fdatasync that returned had covered, and the operation running. */
interface CrashPoint {
  bytes: Buffer;
  durable: number;
  synced: Buffer;
  op: number;
}

/** A small seeded PRNG: the damage at each crash point, reproducible from the property's seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The disk after a power loss at `p`: the bytes the last fdatasync covered (with an in-place
 * erasure since then landed or not), and of the rest a random part (all of it half the time),
 * perhaps garbled or zeroed, mostly near its end where a payload is. Reopened, it must be the state
 * before the operation in flight or after it, with no erased payload's bytes left in the file.
 */
async function reopenAfter(p: CrashPoint, random: () => number, work: string, snapshots: string[], erased: string[][]): Promise<void> {
  const pick = (n: number) => Math.floor(random() * n);
  const prefix = (random() < 0.5 ? p.synced : p.bytes).subarray(0, p.durable);
  const rest = p.bytes.length - p.durable;
  const tail = Buffer.from(p.bytes.subarray(p.durable, p.durable + (random() < 0.5 ? rest : pick(rest + 1))));
  if (tail.length > 0 && random() < 0.5) {
    const at = random() < 0.5 ? pick(tail.length) : Math.max(0, tail.length - 1 - pick(64));
    const end = Math.min(tail.length, at + 1 + pick(40));
    tail.set(random() < 0.5 ? new Uint8Array(end - at) : randomBytes(end - at), at);
  }
  const after = await mkdtemp(path.join(work, 'after-'));
  await writeFile(path.join(after, 'store.journal'), Buffer.concat([prefix, tail]));
  const reopened = new LocalFileStore(after);
  try {
    const state = await dump(reopened);
    const k = [p.op, p.op + 1].find((n) => snapshots[n] === state);
    expect(k, `reopened after a crash in operation ${p.op}: ${state}\nbefore it: ${snapshots[p.op]}\nafter it: ${snapshots[p.op + 1]}`).toBeDefined();
    const raw = fs.readFileSync(path.join(after, 'store.journal'), 'latin1');
    for (const marker of erased.slice(0, k).flat()) expect(raw.includes(marker), `erased payload ${marker} in the file`).toBe(false);
  } finally {
    await reopened.close();
  }
}

describe('the local store journal after a power loss', () => {
  it('reopens as the state after every acknowledged operation, and maybe the one in flight', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Both secrets created first, so that most operations find theirs.
        fc.array(opArb, { minLength: 1, maxLength: 14 }).map((rest): Op[] => [{ kind: 'create', id: 'a' }, { kind: 'create', id: 'b' }, ...rest]),
        fc.integer(),
        async (ops, seed) => {
          const work = await mkdtemp(path.join(base, 'meshlink-power-'));
          const file = path.join(work, 'store', 'store.journal');
          const points: CrashPoint[] = [];
          let durable = 0;
          let synced = Buffer.alloc(0);
          let current = 0;
          const seen = () => points.push({ bytes: fs.readFileSync(file), durable, synced, op: current });
          const calls: Partial<JournalFs> = {
            write(fd, data, position) {
              const n = nodeJournalFs.write(fd, data, position);
              seen();
              return n;
            },
            async datasync(fd) {
              const size = fs.fstatSync(fd).size;
              await nodeJournalFs.datasync(fd);
              durable = size;
              synced = fs.readFileSync(file);
              seen();
            },
          };
          const clock = manualClock();
          const store = new LocalFileStore(path.join(work, 'store'), { clock, fs: calls });
          const model = new InMemoryStore({ clock });
          const snapshots = [await dump(store)];
          /** Markers of the payloads each operation erased (destroyed or deleted). */
          const erased: string[][] = [];
          const markers = new Map<string, string[]>();
          try {
            for (const [i, op] of ops.entries()) {
              current = i;
              const marker = `KEY-${randomBytes(8).toString('hex')}`;
              const payload = new TextEncoder().encode(marker);
              const outcome = await run(store, op, payload);
              expect(outcome).toBe(await run(model, op, payload));
              expect(await dump(store, false)).toBe(await dump(model, false));
              snapshots.push(await dump(store));
              const gone: string[] = [];
              if (outcome === 'ok' && op.kind === 'create') markers.set(op.id, []);
              if (outcome === 'ok' && op.kind === 'add') markers.get(op.id)!.push(marker);
              if (outcome === 'ok' && op.kind === 'destroy') gone.push(markers.get(op.id)![op.version - 1]!);
              if (outcome === 'ok' && op.kind === 'delete') gone.push(...markers.get(op.id)!);
              erased.push(gone);
            }
            // Every point of the run, each with its own cut and damage drawn from the seed.
            const random = mulberry32(seed);
            for (const p of points) await reopenAfter(p, random, work, snapshots, erased);
          } finally {
            await store.close();
            await rm(work, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 0) || 60 },
    );
  }, 120_000);
});
