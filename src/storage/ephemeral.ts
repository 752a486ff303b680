import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { closeRedis, connectRedis } from './redis.js';

/**
 * Short-lived shared state: values and counters that expire by themselves (captcha answers,
 * polling logins, login backoff). In this process's memory (bounded) for one process; in Redis
 * when `redis.url` is set, so every replica sees what another wrote. Features use their own key
 * prefixes; the store adds its own in front (`redis.keyPrefix`).
 */
export interface EphemeralStore {
  /** Stores `value` for `ttlMs`. With `onlyIfAbsent`, nothing changes when the key exists: false. */
  put(key: string, value: string, ttlMs: number, opts?: { onlyIfAbsent?: boolean }): Promise<boolean>;
  get(key: string): Promise<string | undefined>;
  /** Reads and deletes in one step: of two concurrent takers only one gets the value. */
  take(key: string): Promise<string | undefined>;
  delete(key: string): Promise<void>;
  /** Adds 1 to a counter (0 when missing) and sets its expiry to `ttlMs` from now; the new count. */
  increment(key: string, ttlMs: number): Promise<number>;
  close(): Promise<void>;
}

const MEMORY_MAX_ENTRIES = 100_000;

export class MemoryEphemeralStore implements EphemeralStore {
  readonly #entries: LRUCache<string, string>;

  constructor(opts: { maxEntries?: number; now?: () => number } = {}) {
    const now = opts.now;
    this.#entries = new LRUCache<string, string>({
      max: opts.maxEntries ?? MEMORY_MAX_ENTRIES,
      // Every entry has its own TTL; an entry without one would never leave but by eviction.
      ttl: 24 * 3600_000,
      ttlAutopurge: false,
      ...(now ? { ttlResolution: 0, perf: { now } } : {}),
    });
  }

  async put(key: string, value: string, ttlMs: number, opts: { onlyIfAbsent?: boolean } = {}) {
    if (opts.onlyIfAbsent && this.#entries.has(key)) return false;
    this.#entries.set(key, value, { ttl: ttlMs });
    return true;
  }

  async get(key: string) {
    return this.#entries.get(key);
  }

  async take(key: string) {
    const value = this.#entries.get(key);
    this.#entries.delete(key);
    return value;
  }

  async delete(key: string) {
    this.#entries.delete(key);
  }

  async increment(key: string, ttlMs: number) {
    const n = Number(this.#entries.get(key) ?? '0') + 1;
    this.#entries.set(key, String(n), { ttl: ttlMs });
    return n;
  }

  async close() {
    this.#entries.clear();
  }
}

export class RedisEphemeralStore implements EphemeralStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ownsClient = false,
  ) {}

  static connect(url: string, prefix: string): RedisEphemeralStore {
    return new RedisEphemeralStore(connectRedis(url), prefix, true);
  }

  async put(key: string, value: string, ttlMs: number, opts: { onlyIfAbsent?: boolean } = {}) {
    const px = Math.max(1, Math.ceil(ttlMs));
    const reply = opts.onlyIfAbsent
      ? await this.redis.set(this.prefix + key, value, 'PX', px, 'NX')
      : await this.redis.set(this.prefix + key, value, 'PX', px);
    return reply === 'OK';
  }

  async get(key: string) {
    return (await this.redis.get(this.prefix + key)) ?? undefined;
  }

  async take(key: string) {
    return (await this.redis.getdel(this.prefix + key)) ?? undefined;
  }

  async delete(key: string) {
    await this.redis.del(this.prefix + key);
  }

  async increment(key: string, ttlMs: number) {
    const k = this.prefix + key;
    const replies = await this.redis
      .multi()
      .incr(k)
      .pexpire(k, Math.max(1, Math.ceil(ttlMs)))
      .exec();
    const [err, count] = replies?.[0] ?? [new Error('no reply from Redis')];
    if (err) throw err;
    return Number(count);
  }

  async close() {
    if (this.ownsClient) await closeRedis(this.redis);
  }
}

/** Redis when a URL is configured (state shared by replicas), else this process's memory. */
export function createEphemeralStore(redis: { url?: string | undefined; keyPrefix: string }): EphemeralStore {
  return redis.url
    ? RedisEphemeralStore.connect(redis.url, `${redis.keyPrefix}ephemeral:`)
    : new MemoryEphemeralStore();
}
