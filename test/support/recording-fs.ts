// A DurableFs over the real file system that records each call in order (paths relative to a
// base, temp and staging suffixes as `*`), so a test can assert the order of writes, fsyncs and
// renames. `hold` pauses a rename until released: a write caught in flight.
import path from 'node:path';
import { nodeFs, type DurableFs } from '../../shared/durable-file.js';

export function recordingFs(base: string) {
  const events: string[] = [];
  const rel = (p: string) => (path.relative(base, p) || '.').replace(/\.(tmp|new|deleted)-[0-9a-f-]+/g, '.$1-*');
  let held: { until: Promise<void>; reached: () => void } | undefined;
  const fs: DurableFs = {
    async open(file, flags, mode) {
      const handle = await nodeFs.open(file, flags, mode);
      return {
        writeFile: async (data) => {
          events.push(`write ${rel(file)}`);
          await handle.writeFile(data);
        },
        sync: async () => {
          events.push(`fsync ${rel(file)}`);
          await handle.sync();
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
      let release!: () => void;
      let reached!: () => void;
      const until = new Promise<void>((r) => (release = r));
      const atRename = new Promise<void>((r) => (reached = r));
      held = { until, reached };
      return { reached: atRename, release };
    },
  };
}
