// The one eviction rule of meshlink's in-memory caches: a Map iterates in insertion order, so the
// oldest entry goes first once the map holds `limit` entries.

/** Sets `key` to `value`, first dropping the oldest entries so that the map stays within `limit`. */
export function setBounded<K, V>(map: Map<K, V>, limit: number, key: K, value: V): V {
  while (map.size >= limit) map.delete(map.keys().next().value!);
  map.set(key, value);
  return value;
}
