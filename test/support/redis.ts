import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/**
 * Real Redis for tests, at SHENMA_TEST_REDIS_URL (default the local one CI starts). Every caller
 * works under its own key prefix (Redis is shared: never FLUSHDB) and removes its keys after.
 * Without a server, suites skip and say so; under CI a missing server is an error.
 */

export const REDIS_TEST_URL = process.env.SHENMA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Why Redis cannot be used, or undefined when it answers. */
export async function redisUnreachable(): Promise<string | undefined> {
  const redis = new Redis(REDIS_TEST_URL, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (process.env.CI)
      throw new Error(`Redis is not reachable at ${REDIS_TEST_URL} (${reason}), and CI must test against it`);
    return reason;
  } finally {
    redis.disconnect();
  }
}

/** A fresh prefix such as `shenma-test:replicas:1a2b3c4d:`. */
export function testKeyPrefix(label: string): string {
  return `shenma-test:${label}:${randomBytes(4).toString('hex')}:`;
}

/** Deletes every key under `prefix` (SCAN, not KEYS: the server is shared). */
export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_TEST_URL, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
