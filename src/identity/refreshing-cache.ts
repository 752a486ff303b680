import { LRUCache } from 'lru-cache';

export interface RefreshingCacheOptions<K, V> {
  /** Entries kept at most; the least recently used go first. */
  max: number;
  /** An answer is never served older than this (counted from when its lookup started). */
  ttlMs: number;
  /** A hit on an answer at least this old also starts a lookup in the background. */
  refreshAfterMs: number;
  load: (key: K) => Promise<V>;
  /** Milliseconds, for tests; `performance.now` otherwise. */
  now?: () => number;
}

/**
 * Remembered answers of a slow lookup (a database query) that every request needs, such as
 * "is this credential live". A plain time-limited cache does two things on the request path that
 * this one does not:
 *
 * - When an entry expires, every request that arrives before the new answer runs the lookup on
 *   its own: 100 chat streams on one token meant 100 queries queued on a pool of 10, and the
 *   last of them waited ~55 ms before its upstream call. Here concurrent misses share one lookup.
 * - A key in steady use expires in front of some request every TTL. Here a hit on an answer older
 *   than `refreshAfterMs` is still answered from the cache and starts one lookup in the
 *   background, so a key used more often than `ttlMs - refreshAfterMs` never waits. No answer is
 *   ever served older than `ttlMs`, so how stale an answer can be is unchanged.
 *
 * `delete` and `clear` (a revocation) also drop lookups in flight: an answer read before the
 * change is neither stored after it nor handed to a request that arrives after it. A lookup still
 * pending after `refreshAfterMs` is not joined any more, so one stuck query cannot hold every
 * later request on that key.
 */
export class RefreshingCache<K extends {}, V> {
  private readonly entries: LRUCache<K, { value: V; at: number }>;
  private readonly inFlight = new Map<K, { lookup: Promise<V>; started: number }>();
  private readonly now: () => number;

  constructor(private readonly opts: RefreshingCacheOptions<K, V>) {
    if (!(opts.refreshAfterMs < opts.ttlMs))
      throw new Error('RefreshingCache: refreshAfterMs must be below ttlMs');
    this.entries = new LRUCache({ max: opts.max });
    this.now = opts.now ?? (() => performance.now());
  }

  get(key: K): Promise<V> {
    const entry = this.entries.get(key);
    if (entry) {
      const age = this.now() - entry.at;
      if (age < this.opts.ttlMs) {
        if (age >= this.opts.refreshAfterMs && !this.inFlight.has(key)) {
          // The entry answers until its TTL; a failed refresh leaves it there, and the request
          // that finds it expired then meets the failure itself.
          this.load(key).catch(() => {});
        }
        return Promise.resolve(entry.value);
      }
      this.entries.delete(key);
    }
    return this.load(key);
  }

  delete(key: K): void {
    this.entries.delete(key);
    this.inFlight.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.inFlight.clear();
  }

  private load(key: K): Promise<V> {
    const started = this.now();
    const pending = this.inFlight.get(key);
    // A lookup that has not answered in refreshAfterMs is stuck (the database has no statement
    // timeout): later requests start their own rather than wait on it for ever.
    if (pending && started - pending.started < this.opts.refreshAfterMs) return pending.lookup;
    // Still the key's lookup when it settles: neither deleted, cleared nor replaced meanwhile.
    const current = () => this.inFlight.get(key)?.lookup === lookup;
    const lookup: Promise<V> = this.opts.load(key).then(
      (value) => {
        if (current()) {
          this.inFlight.delete(key);
          this.entries.set(key, { value, at: started });
        }
        return value;
      },
      (err: unknown) => {
        if (current()) this.inFlight.delete(key);
        throw err;
      },
    );
    this.inFlight.set(key, { lookup, started });
    return lookup;
  }
}
