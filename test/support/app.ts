// A test app: the real use-cases on an in-memory store (counting calls), in-memory clusters, a
// manual clock and a memory logger.
import { manualClock } from './clock.js';
import { DEFAULT_SETTINGS, type AppDeps, type AppSettings } from '../../shared/app/deps.js';
import { memoryLogger } from './log.js';
import { CountingStore } from './counting-store.js';
import { InMemoryStore } from './memory-store.js';
import { MemoryClusters } from './memory-clusters.js';

export function testApp(options: { start?: string; settings?: Partial<AppSettings>; workerId?: string } = {}) {
  const clock = manualClock(options.start ?? '2026-11-23T10:00:00Z');
  const memory = new InMemoryStore({ clock });
  const store = new CountingStore(memory);
  const clusters = new MemoryClusters();
  const log = memoryLogger();
  const deps: AppDeps = { store, clusters, clock, log, settings: { ...DEFAULT_SETTINGS, ...options.settings }, workerId: options.workerId ?? 'test-worker' };
  return { deps, clock, store, memory, clusters, log };
}

export type TestApp = ReturnType<typeof testApp>;

/** Store writes counted so far (creates, annotation updates, versions, deletes). */
export function storeWrites(store: CountingStore): number {
  const c = store.calls;
  return c.createSecret + c.updateAnnotations + c.deleteSecret + c.addVersion + c.disableVersion + c.destroyVersion;
}
