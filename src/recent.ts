/** A map of at most `limit` entries that forgets the oldest first: for answers worth keeping a while. */
export class RecentMap<V> {
  readonly #entries = new Map<string, V>();

  constructor(readonly limit: number) {}

  get(key: string): V | undefined {
    return this.#entries.get(key);
  }

  set(key: string, value: V): void {
    if (this.#entries.size >= this.limit) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(key, value);
  }

  clear(): void {
    this.#entries.clear();
  }
}
