import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/**
 * Real Redis for tests, at SHENMA_TEST_REDIS_URL (default the local one). Every test uses its
 * own key prefix (never FLUSHDB). Without Redis a developer's run skips the suite and says so;
 * under CI it is a failure.
 */
export const REDIS_URL = process.env.SHENMA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Why Redis cannot be used, or undefined when it answers. */
export async function redisUnreachable(): Promise<string | undefined> {
  const redis = new Redis(REDIS_URL, {
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
    return err instanceof Error ? err.message : String(err);
  } finally {
    redis.disconnect();
  }
}

export function uniqueKeyPrefix(label: string): string {
  return `shenma-test:${label}:${randomBytes(6).toString('hex')}:`;
}

/** Deletes the keys a test wrote under its prefix. */
export async function dropKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
