/**
 * A map keyed by a pair of strings, kept as a map of maps: a lookup hashes each part as it is given
 * (a string hashes once and keeps its hash), where a joined key would be a new string to hash on
 * every lookup. The decision's three lookups each cost more in joining and hashing than in the map.
 * Forgets everything once it holds `limit` entries.
 */
export class PairCache<T> {
  private readonly byFirst = new Map<string, Map<string, T>>();
  private entries = 0;

  constructor(private readonly limit: number) {}

  get(first: string, second: string): T | undefined {
    return this.byFirst.get(first)?.get(second);
  }

  set(first: string, second: string, value: T): T {
    if (this.entries >= this.limit) this.clear();
    let inner = this.byFirst.get(first);
    if (!inner) this.byFirst.set(first, (inner = new Map()));
    const size = inner.size;
    inner.set(second, value);
    this.entries += inner.size - size;
    return value;
  }

  delete(first: string, second: string | null): void {
    const inner = this.byFirst.get(first);
    if (!inner || second === null || !inner.delete(second)) return;
    this.entries -= 1;
    if (inner.size === 0) this.byFirst.delete(first);
  }

  clear(): void {
    this.byFirst.clear();
    this.entries = 0;
  }

  get size(): number {
    return this.entries;
  }
}
