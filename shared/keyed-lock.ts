// Serialises async work per key within the process (a store's secret, a cluster directory's
// patch file), on async-mutex: one mutex per key, dropped once nobody holds or waits for it.
import { Mutex } from 'async-mutex';

export class KeyedLock {
  private readonly mutexes = new Map<string, Mutex>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    let mutex = this.mutexes.get(key);
    if (!mutex) {
      mutex = new Mutex();
      this.mutexes.set(key, mutex);
    }
    try {
      return await mutex.runExclusive(work);
    } finally {
      // A waiter already holds it again when there was one; a newer mutex of the key is not ours to drop.
      if (!mutex.isLocked() && this.mutexes.get(key) === mutex) this.mutexes.delete(key);
    }
  }
}
