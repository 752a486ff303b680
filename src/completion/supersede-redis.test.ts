import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteKeys, REDIS_TEST_URL, redisUnreachable, testKeyPrefix } from '../../test/support/redis.js';
import { RedisChannels } from '../storage/redis-channels.js';
import { SupersededError } from './supersede.js';
import { type SharedSupersede, shareSupersede } from './supersede-redis.js';

/** Two replicas' registries on one real Redis, each with its own connections, as two processes have. */

const unreachable = await redisUnreachable();
if (unreachable)
  console.warn(`[supersede-redis] SKIPPING: ${REDIS_TEST_URL} is unreachable (${unreachable})`);

const prefix = testKeyPrefix('supersede');
const cleanups: (() => Promise<void>)[] = [];
const silent = { warn: () => {}, info: () => {} };

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  if (!unreachable) await deleteKeys(prefix);
});

async function replica(): Promise<SharedSupersede> {
  const redis = new Redis(REDIS_TEST_URL, { maxRetriesPerRequest: 1 });
  const channels = new RedisChannels(redis);
  const shared = shareSupersede(channels, prefix, silent);
  cleanups.push(async () => {
    shared.close();
    await channels.close();
    redis.disconnect();
  });
  await shared.ready;
  return shared;
}

/** A third listener on the channel: once it heard a claim, Redis has ordered it before any later one. */
async function listener() {
  const redis = new Redis(REDIS_TEST_URL, { maxRetriesPerRequest: 1 });
  const channels = new RedisChannels(redis);
  const heard: string[] = [];
  await channels.subscribe(`${prefix}supersede`, (m) => heard.push(m));
  cleanups.push(async () => {
    await channels.close();
    redis.disconnect();
  });
  return {
    until: async (n: number) => {
      for (let i = 0; i < 500 && heard.length < n; i++) await new Promise((r) => setTimeout(r, 10));
      expect(heard.length).toBeGreaterThanOrEqual(n);
    },
  };
}

async function aborted(controller: AbortController): Promise<unknown> {
  if (controller.signal.aborted) return controller.signal.reason;
  return new Promise((resolve) =>
    controller.signal.addEventListener('abort', () => resolve(controller.signal.reason), { once: true }),
  );
}

describe.skipIf(unreachable !== undefined)('completion supersede across replicas on a real Redis', () => {
  it('a newer request on replica B aborts the older one with the same key on replica A, and only it', async () => {
    const [a, b] = [await replica(), await replica()];
    const heard = await listener();
    const older = new AbortController();
    const otherKey = new AbortController();
    a.registry.claim('v2:alice:7-stream', older);
    a.registry.claim('v2:bob:7-stream', otherKey);
    await heard.until(2);
    const newer = new AbortController();
    b.registry.claim('v2:alice:7-stream', newer);
    expect(await aborted(older)).toBeInstanceOf(SupersededError);
    // B heard both claims too; its own is the latest, so it keeps running.
    await heard.until(3);
    await new Promise((r) => setTimeout(r, 50));
    expect(newer.signal.aborted).toBe(false);
    expect(otherKey.signal.aborted).toBe(false);
  });

  it('the request claimed later in Redis order wins whichever replica made it', async () => {
    const [a, b] = [await replica(), await replica()];
    const heard = await listener();
    const onB = new AbortController();
    b.registry.claim('v2:carol:1', onB);
    await heard.until(1);
    const onA = new AbortController();
    a.registry.claim('v2:carol:1', onA);
    expect(await aborted(onB)).toBeInstanceOf(SupersededError);
    const third = new AbortController();
    await heard.until(2);
    b.registry.claim('v2:carol:1', third);
    expect(await aborted(onA)).toBeInstanceOf(SupersededError);
    expect(third.signal.aborted).toBe(false);
  });
});
