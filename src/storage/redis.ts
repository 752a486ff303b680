import { Redis } from 'ioredis';

/**
 * One way to open Redis from `redis.url` for the state replicas share (login backoff, captcha
 * answers, polling logins, credential-change broadcasts). Commands fail fast instead of queueing
 * while Redis is away: a login must answer, not hang.
 */
export function connectRedis(url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2000 });
  // ioredis prints unhandled 'error' events; failed commands already reject to their callers.
  redis.on('error', () => {});
  return redis;
}

export async function closeRedis(redis: Redis): Promise<void> {
  await redis.quit().catch(() => redis.disconnect());
}
