import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteKeys, REDIS_TEST_URL, redisUnreachable, testKeyPrefix } from '../../../test/support/redis.js';
import { RedisChannels } from '../../storage/redis-channels.js';
import { RedisResumeStore } from './redis-resume.js';
import type { ResumeItem } from './wire.js';

/**
 * The Redis resume store on a real Redis: the same reads as the in-process store, plus what only
 * a shared store has (the runner, the TTL Redis enforces, the bound on a chat's stream). Following
 * across replicas is tested with two Shenma processes in test/replicas.e2e.test.ts.
 */

const unreachable = await redisUnreachable();
if (unreachable) console.warn(`[redis-resume] SKIPPING: ${REDIS_TEST_URL} is unreachable (${unreachable})`);

const prefix = testKeyPrefix('resume');
const redis = unreachable ? undefined : new Redis(REDIS_TEST_URL, { maxRetriesPerRequest: 1 });
const channels = redis ? new RedisChannels(redis) : undefined;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

afterAll(async () => {
  await channels?.close();
  redis?.disconnect();
  if (!unreachable) await deleteKeys(prefix);
});

const json = (offset: number): ResumeItem => ({
  offset,
  event: 'json',
  data: { event: 'agent_end', offset },
});
const store = (opts: { ttlMs?: number; maxItemsPerChat?: number } = {}) =>
  new RedisResumeStore(redis!, channels!, { prefix, ttlMs: opts.ttlMs ?? 60_000, log: silent, ...opts });

describe.skipIf(unreachable !== undefined)('RedisResumeStore on a real Redis', () => {
  it('returns the items after an offset, the owner and the replica that generates the chat', async () => {
    const s = store();
    await s.append('c1', 'u1', [json(1), json(2)]);
    await s.append('c1', 'u1', [json(3), { offset: 4, event: 'message', data: '[DONE]' }]);
    expect(await s.read('c1', 2)).toEqual({
      owner: 'u1',
      runner: s.replicaId,
      items: [json(3), { offset: 4, event: 'message', data: '[DONE]' }],
    });
    expect((await s.read('c1', 4))?.items).toEqual([]);
    expect(await s.read('nope', 0)).toBeUndefined();
    // Another replica (another store) reads the same chat.
    expect((await store().read('c1', 0))?.items.map((i) => i.offset)).toEqual([1, 2, 3, 4]);
  });

  it('expires a chat ttlMs after its last append (Redis enforces it)', async () => {
    const s = store({ ttlMs: 60_000 });
    await s.append('c2', 'u1', [json(1)]);
    const ttl = await redis!.pttl(`${prefix}chat:c2:items`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(await redis!.pttl(`${prefix}chat:c2:meta`)).toBeGreaterThan(50_000);
    const short = store({ ttlMs: 50 });
    await short.append('c3', 'u1', [json(1)]);
    for (let i = 0; i < 200 && (await short.read('c3', 0)) !== undefined; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await short.read('c3', 0)).toBeUndefined();
  });

  it("keeps a bounded number of a chat's items, dropping the oldest, so a reader can see the gap", async () => {
    const s = store({ maxItemsPerChat: 10 });
    // MAXLEN ~ trims whole stream nodes (100 entries by default), so go well past the bound.
    const items = Array.from({ length: 400 }, (_, i) => json(i + 1));
    for (let i = 0; i < items.length; i += 50) await s.append('c4', 'u1', items.slice(i, i + 50));
    const kept = (await s.read('c4', 0))!.items;
    expect(kept.length).toBeLessThan(400);
    expect(kept[0]!.offset).toBeGreaterThan(1);
    expect(kept.at(-1)!.offset).toBe(400);
  });

  it('publishes a notification with a batch when asked, and only then', async () => {
    const s = store();
    const heard: string[] = [];
    const stop = await channels!.subscribe(`${prefix}chat:c5`, (m) => heard.push(m));
    await s.append('c5', 'u1', [json(1)]);
    await s.append('c5', 'u1', [json(2)], { notify: true });
    await s.append('c5', 'u1', [], { notify: true });
    for (let i = 0; i < 200 && heard.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    stop();
    expect(heard).toEqual(['n', 'n']);
  });
});
