import { Redis } from 'ioredis';
import {
  type QuotaLimit,
  type QuotaStore,
  type Reservation,
  type ReserveResult,
  secondsUntilUtcMidnight,
  utcDay,
  wholeTokens,
} from './store.js';

/**
 * Check-and-take in one script: Redis runs a script to completion before any other command, so
 * no two replicas can both read "9 of 10 used" and both take the tenth request. The key's day
 * and expiry come from the caller's clock as arguments (never read inside the script), so every
 * replica and every test agrees on which day is charged.
 * Reply: 'ok', or the name of the limit that refused.
 */
const RESERVE = `
local requests = tonumber(redis.call('HGET', KEYS[1], 'requests') or '0')
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or '0')
local maxRequests = tonumber(ARGV[1])
local maxTokens = tonumber(ARGV[2])
local estimate = tonumber(ARGV[3])
if maxRequests >= 0 and requests + 1 > maxRequests then return 'requests' end
if maxTokens >= 0 and tokens + estimate > maxTokens then return 'tokens' end
redis.call('HINCRBY', KEYS[1], 'requests', 1)
redis.call('HINCRBY', KEYS[1], 'tokens', estimate)
redis.call('EXPIREAT', KEYS[1], ARGV[4])
return 'ok'
`;

/** Adds deltas to a day's counters if it still exists, never below zero. */
const ADJUST = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local requests = redis.call('HINCRBY', KEYS[1], 'requests', ARGV[1])
if requests < 0 then redis.call('HSET', KEYS[1], 'requests', 0) end
local tokens = redis.call('HINCRBY', KEYS[1], 'tokens', ARGV[2])
if tokens < 0 then redis.call('HSET', KEYS[1], 'tokens', 0) end
return 1
`;

interface QuotaCommands {
  shenmaQuotaReserve(key: string, ...args: (string | number)[]): Promise<string>;
  shenmaQuotaAdjust(key: string, requestsDelta: number, tokensDelta: number): Promise<number>;
}

export interface RedisQuotaStoreOptions {
  /** Prepended to every key; default `shenma:quota:` (keys are `<prefix><key>:<yyyymmdd>`). */
  prefix?: string;
}

const DAY_SECONDS = 86_400;

/**
 * Quota counters in Redis, shared by every replica: one hash per key and UTC day with fields
 * `requests` and `tokens`, expiring a day after its day ends.
 */
export class RedisQuotaStore implements QuotaStore {
  readonly #redis: Redis & QuotaCommands;
  readonly #prefix: string;
  readonly #ownsClient: boolean;

  constructor(redis: Redis, opts: RedisQuotaStoreOptions = {}, ownsClient = false) {
    // EVALSHA with a fallback to EVAL: the script text is sent once per connection, not per call.
    redis.defineCommand('shenmaQuotaReserve', { numberOfKeys: 1, lua: RESERVE });
    redis.defineCommand('shenmaQuotaAdjust', { numberOfKeys: 1, lua: ADJUST });
    this.#redis = redis as Redis & QuotaCommands;
    this.#prefix = opts.prefix ?? 'shenma:quota:';
    this.#ownsClient = ownsClient;
  }

  /** Connects to `url` (redis:// or rediss://); the store closes the connection on `close()`. */
  static connect(url: string, opts: RedisQuotaStoreOptions = {}): RedisQuotaStore {
    const redis = new Redis(url, {
      // A quota check must answer fast or fail: no long queueing while Redis is away.
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      lazyConnect: false,
    });
    // ioredis prints unhandled 'error' events; failed commands already reject to their callers.
    redis.on('error', () => {});
    return new RedisQuotaStore(redis, opts, true);
  }

  async reserve(key: string, limits: QuotaLimit, estimatedTokens: number, now: Date): Promise<ReserveResult> {
    const day = utcDay(now);
    const tokens = wholeTokens(estimatedTokens);
    const dayStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) / 1000;
    const reply = await this.#redis.shenmaQuotaReserve(
      this.#keyOf(key, day),
      limits.requests ?? -1,
      limits.tokens ?? -1,
      tokens,
      dayStart + 2 * DAY_SECONDS,
    );
    if (reply === 'ok') return { ok: true, reservation: { key, day, tokens } };
    if (reply === 'requests' || reply === 'tokens') {
      return { ok: false, retryAfterSeconds: secondsUntilUtcMidnight(now), which: reply };
    }
    throw new Error(`unexpected quota script reply: ${String(reply)}`);
  }

  async settle(reservation: Reservation, actualTokens: number): Promise<void> {
    const delta = wholeTokens(actualTokens) - reservation.tokens;
    if (delta === 0) return;
    await this.#redis.shenmaQuotaAdjust(this.#keyOf(reservation.key, reservation.day), 0, delta);
  }

  async release(reservation: Reservation): Promise<void> {
    await this.#redis.shenmaQuotaAdjust(
      this.#keyOf(reservation.key, reservation.day),
      -1,
      -reservation.tokens,
    );
  }

  async close(): Promise<void> {
    if (this.#ownsClient) await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  #keyOf(key: string, day: string): string {
    return `${this.#prefix}${key}:${day}`;
  }
}
