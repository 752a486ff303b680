import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_TEST_URL, redisUnreachable, testKeyPrefix } from '../../test/support/redis.js';
import { RedisChannels } from './redis-channels.js';

const unreachable = await redisUnreachable();
if (unreachable) console.warn(`[redis-channels] SKIPPING: ${REDIS_TEST_URL} is unreachable (${unreachable})`);

const prefix = testKeyPrefix('channels');
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

function open(url = REDIS_TEST_URL, opts: RedisOptions = {}) {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, ...opts });
  redis.on('error', () => {});
  const channels = new RedisChannels(redis);
  cleanups.push(async () => {
    await channels.close();
    redis.disconnect();
  });
  return channels;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(unreachable !== undefined)('RedisChannels on a real Redis', () => {
  it('delivers to every handler of a channel, subscribes once, and stops per handler', async () => {
    const here = open();
    const there = open();
    const channel = `${prefix}one`;
    const first: string[] = [];
    const second: string[] = [];
    const stopFirst = await here.subscribe(channel, (m) => first.push(m));
    const stopSecond = await here.subscribe(channel, (m) => second.push(m));
    // One subscription for two handlers in this process.
    expect(await there.listeners(channel)).toBe(1);
    expect(await there.publish(channel, 'a')).toBe(1);
    await until(() => first.length === 1 && second.length === 1, 'both handlers');
    stopFirst();
    await there.publish(channel, 'b');
    await until(() => second.length === 2, 'the remaining handler');
    expect(first).toEqual(['a']);
    stopSecond();
    // The last handler gone, the channel is unsubscribed.
    for (let i = 0; i < 100 && (await there.listeners(channel)) > 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(await there.listeners(channel)).toBe(0);
  });

  it('subscribeForGood reports an unreachable Redis once and stops retrying when told', async () => {
    // A port nothing listens on: every attempt fails fast.
    const nowhere = open('redis://127.0.0.1:1', { retryStrategy: () => 50, connectTimeout: 200 });
    const errors: unknown[] = [];
    const stop = nowhere.subscribeForGood(`${prefix}never`, () => {}, {
      onError: (err) => errors.push(err),
      retryMs: 20,
    });
    await until(() => errors.length > 0, 'the first failure');
    await new Promise((r) => setTimeout(r, 200));
    stop();
    expect(errors).toHaveLength(1);
  });

  it('subscribeForGood subscribes when Redis answers', async () => {
    const here = open();
    const there = open();
    const heard: string[] = [];
    let ready = false;
    const stop = here.subscribeForGood(`${prefix}good`, (m) => heard.push(m), {
      onError: () => {},
      onReady: () => {
        ready = true;
      },
    });
    await until(() => ready, 'the subscription');
    await there.publish(`${prefix}good`, 'x');
    await until(() => heard.length === 1, 'the message');
    stop();
  });
});
