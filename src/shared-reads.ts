/**
 * `read` for many callers at once, without serving anyone an answer older than their call: calls with the same key
 * share one run, but a call never joins a run that began before it. One that arrives while a run is under way
 * waits for it to end and shares the next, with everyone else who arrived meanwhile. So however many ask, at most
 * one run per key is in flight, and each answer reflects every write committed before its call: for a report that
 * scans a large table, where fifty concurrent requests would otherwise hold fifty connections for the same result.
 */
export function sharedReads<K, V>(read: (key: K) => Promise<V>): (key: K) => Promise<V> {
  const running = new Map<K, Promise<V>>();
  const next = new Map<K, Promise<V>>();

  const start = (key: K): Promise<V> => {
    next.delete(key);
    const run = read(key).finally(() => {
      if (running.get(key) === run) running.delete(key);
    });
    running.set(key, run);
    return run;
  };

  return (key) => {
    const queued = next.get(key);
    if (queued) return queued;
    const current = running.get(key);
    if (!current) return start(key);
    const after = current.then(
      () => start(key),
      () => start(key),
    );
    next.set(key, after);
    return after;
  };
}
