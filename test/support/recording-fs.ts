// A DurableFs over the real file system that records each call in order (paths relative to a
// base, temp and staging suffixes as `*`), so a test can assert the order of writes, fsyncs and
// renames. An fsync is recorded once it has returned (what it synced is durable from there on),
// the other calls when made. `hold` pauses a rename until released: a write caught in flight;
// `holdSync` pauses the fsync of a path: a slow disk under writes made at once.
import path from 'node:path';
import { nodeFs, type DurableFs } from '../../shared/durable-file.js';

export function recordingFs(base: string) {
  const events: string[] = [];
  const rel = (p: string) => (path.relative(base, p) || '.').replace(/\.(tmp|new|deleted)-[0-9a-f-]+/g, '.$1-*');
  let held: Gate | undefined;
  const syncHolds = new Map<string, Gate>();
  const fs: DurableFs = {
    async open(file, flags, mode) {
      const handle = await nodeFs.open(file, flags, mode);
      return {
        writeFile: async (data) => {
          events.push(`write ${rel(file)}`);
          await handle.writeFile(data);
        },
        sync: async () => {
          const pause = syncHolds.get(rel(file));
          if (pause) {
            syncHolds.delete(rel(file));
            pause.reached();
            await pause.until;
          }
          await handle.sync();
          events.push(`fsync ${rel(file)}`);
        },
        close: () => handle.close(),
      };
    },
    async rename(from, to) {
      if (held) {
        const h = held;
        held = undefined;
        h.reached();
        await h.until;
      }
      events.push(`rename ${rel(from)} -> ${rel(to)}`);
      await nodeFs.rename(from, to);
    },
    async rm(target, options) {
      events.push(`rm ${rel(target)}`);
      await nodeFs.rm(target, options);
    },
    async unlink(file) {
      events.push(`unlink ${rel(file)}`);
      await nodeFs.unlink(file);
    },
    async mkdir(dir, options) {
      const created = await nodeFs.mkdir(dir, options);
      events.push(`mkdir ${rel(dir)}${created === undefined ? ' (exists)' : ''}`);
      return created;
    },
  };
  return {
    fs,
    events,
    /** The next rename waits for `release()`; `reached` resolves once it waits (its temp file written). */
    hold() {
      const { gate, control } = newGate();
      held = gate;
      return control;
    },
    /** The next fsync of `file` (relative, as events name it) waits for `release()`; `reached` resolves once it waits. */
    holdSync(file: string) {
      const { gate, control } = newGate();
      syncHolds.set(file, gate);
      return control;
    },
  };
}

interface Gate {
  until: Promise<void>;
  reached: () => void;
}

function newGate(): { gate: Gate; control: { reached: Promise<void>; release: () => void } } {
  let release!: () => void;
  let reached!: () => void;
  const until = new Promise<void>((r) => (release = r));
  const atGate = new Promise<void>((r) => (reached = r));
  return { gate: { until, reached }, control: { reached: atGate, release } };
}
