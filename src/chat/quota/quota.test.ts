import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  redisUnreachable as probeRedisOnce,
  REDIS_TEST_URL as REDIS_URL,
} from '../../../test/support/redis.js';
import { quotasSchema } from '../../config/schema.js';
import { HttpError } from '../../http/errors.js';
import {
  createQuotaGuard,
  MemoryQuotaStore,
  type QuotaStore,
  quotaScopesFor,
  RedisQuotaStore,
  secondsUntilUtcMidnight,
  utcDay,
} from './index.js';

const redisUnreachable = await probeRedisOnce();
if (redisUnreachable) {
  const verdict = process.env.CI ? 'FAILING (CI is set)' : 'SKIPPING';
  console.warn(`[quota] ${verdict} the Redis suites: ${REDIS_URL} is unreachable (${redisUnreachable})`);
}

const NOON = new Date('2030-05-17T12:00:00Z');

/** The same behaviour is asked of every store; `makeStores` gives one or more views of one store. */
function defineStoreSuite(makeStores: () => Promise<QuotaStore[]>) {
  const pick = (stores: QuotaStore[], i: number) => stores[i % stores.length]!;

  it('admits exactly 10 of 100 parallel requests against a budget of 10', async () => {
    const stores = await makeStores();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => pick(stores, i).reserve('user:alice', { requests: 10 }, 1, NOON)),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    const refused = results.filter((r) => !r.ok);
    expect(refused).toHaveLength(90);
    expect(refused[0]).toEqual({ ok: false, which: 'requests', retryAfterSeconds: 12 * 3600 });
  });

  it('never lets parallel token estimates together pass the token budget', async () => {
    const stores = await makeStores();
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => pick(stores, i).reserve('user:bob', { tokens: 100 }, 7, NOON)),
    );
    const admitted = results.filter((r) => r.ok);
    expect(admitted).toHaveLength(14); // 14 × 7 = 98; a 15th would make 105
    expect(results.find((r) => !r.ok)).toMatchObject({ which: 'tokens' });
    // An estimate larger than the whole budget is refused outright.
    expect(await stores[0]!.reserve('user:carol', { tokens: 100 }, 101, NOON)).toMatchObject({ ok: false });
  });

  it('settles a reservation to the tokens actually used', async () => {
    const [store] = await makeStores();
    const first = await store!.reserve('user:dan', { tokens: 100 }, 80, NOON);
    if (!first.ok) throw new Error('first reservation refused');
    expect((await store!.reserve('user:dan', { tokens: 100 }, 30, NOON)).ok).toBe(false);
    await store!.settle(first.reservation, 10);
    const second = await store!.reserve('user:dan', { tokens: 100 }, 90, NOON);
    expect(second.ok).toBe(true);
    if (!second.ok) return;
    // Using more than estimated is charged too: the day is then spent.
    await store!.settle(second.reservation, 95);
    expect(await store!.reserve('user:dan', { tokens: 100 }, 0, NOON)).toMatchObject({
      ok: false,
      which: 'tokens',
    });
  });

  it('gives a released reservation back whole', async () => {
    const [store] = await makeStores();
    const r = await store!.reserve('user:erin', { requests: 1, tokens: 50 }, 50, NOON);
    if (!r.ok) throw new Error('refused');
    expect((await store!.reserve('user:erin', { requests: 1, tokens: 50 }, 1, NOON)).ok).toBe(false);
    await store!.release(r.reservation);
    expect((await store!.reserve('user:erin', { requests: 1, tokens: 50 }, 50, NOON)).ok).toBe(true);
  });

  it('starts a fresh day at 00:00 UTC of the time passed in', async () => {
    const [store] = await makeStores();
    const lastSecond = new Date('2030-05-17T23:59:59Z');
    for (let i = 0; i < 3; i++)
      expect((await store!.reserve('user:fay', { requests: 3 }, 0, lastSecond)).ok).toBe(true);
    expect(await store!.reserve('user:fay', { requests: 3 }, 0, lastSecond)).toEqual({
      ok: false,
      which: 'requests',
      retryAfterSeconds: 1,
    });
    const midnight = new Date('2030-05-18T00:00:00Z');
    const next = await store!.reserve('user:fay', { requests: 3 }, 0, midnight);
    expect(next).toEqual({ ok: true, reservation: { key: 'user:fay', day: '20300518', tokens: 0 } });
  });

  it('keeps keys apart and does not count keys without limits against others', async () => {
    const [store] = await makeStores();
    expect((await store!.reserve('user:gus', { requests: 1 }, 0, NOON)).ok).toBe(true);
    expect((await store!.reserve('user:gus', { requests: 1 }, 0, NOON)).ok).toBe(false);
    expect((await store!.reserve('group:gus', { requests: 1 }, 0, NOON)).ok).toBe(true);
    expect((await store!.reserve('user:hal', {}, 1_000_000, NOON)).ok).toBe(true);
  });
}

describe('MemoryQuotaStore', () => {
  defineStoreSuite(async () => [new MemoryQuotaStore()]);

  it('forgets days before yesterday but still settles yesterday', async () => {
    const store = new MemoryQuotaStore();
    const r = await store.reserve('user:ivy', { tokens: 10 }, 10, new Date('2030-05-17T23:59:00Z'));
    if (!r.ok) throw new Error('refused');
    await store.reserve('user:ivy', {}, 0, new Date('2030-05-18T00:01:00Z'));
    await store.settle(r.reservation, 0);
    const again = await store.reserve('user:ivy', { tokens: 10 }, 10, new Date('2030-05-17T23:59:30Z'));
    expect(again.ok).toBe(true);
  });
});

const redisSuite = redisUnreachable && process.env.CI ? 'fail' : redisUnreachable ? 'skip' : 'run';

if (redisSuite === 'fail') {
  describe('RedisQuotaStore', () => {
    it('has a reachable Redis (required when CI is set)', () => {
      expect.fail(`${REDIS_URL} is unreachable: ${redisUnreachable}`);
    });
  });
}

describe.skipIf(redisSuite !== 'run')('RedisQuotaStore on a real Redis', () => {
  const clients: Redis[] = [];
  const prefixes: string[] = [];
  /** Two connections ("replicas") on one fresh key prefix per test. */
  const replicas = async (count: number): Promise<RedisQuotaStore[]> => {
    const prefix = `shenma:test:${randomUUID()}:quota:`;
    prefixes.push(prefix);
    return Array.from({ length: count }, () => {
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      clients.push(redis);
      return new RedisQuotaStore(redis, { prefix });
    });
  };
  afterEach(async () => {
    const admin = clients[0];
    for (const prefix of prefixes.splice(0)) {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await admin!.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        keys.push(...found);
      } while (cursor !== '0');
      if (keys.length > 0) await admin!.del(...keys);
    }
    await Promise.all(clients.splice(0).map((c) => c.quit()));
  });

  describe('one instance', () => defineStoreSuite(() => replicas(1)));
  describe('two instances sharing Redis', () => defineStoreSuite(() => replicas(2)));

  it('stores one hash per key and UTC day, expiring a day after its day ends', async () => {
    const [store] = await replicas(1);
    const now = new Date();
    const r = await store!.reserve('user:jo', { requests: 5 }, 12, now);
    expect(r.ok).toBe(true);
    const key = `${prefixes[0]}user:jo:${utcDay(now)}`;
    const redis = clients[0]!;
    expect(await redis.hgetall(key)).toEqual({ requests: '1', tokens: '12' });
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(secondsUntilUtcMidnight(now) + 86_400 - 5);
    expect(ttl).toBeLessThanOrEqual(2 * 86_400);
  });

  it('admits exactly 10 of 100 parallel chats through two guards on two replicas', async () => {
    const [a, b] = await replicas(2);
    const config = quotasSchema.parse({ default: { requestsPerDay: 10 } });
    const guards = [createQuotaGuard(config, a!, () => NOON), createQuotaGuard(config, b!, () => NOON)];
    const ctx = { user: { id: 'u-k', name: 'kim' } };
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) => guards[i % 2]!.admit(ctx, 10)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    const refusal = results.find((r) => r.status === 'rejected');
    expect(refusal?.status === 'rejected' && refusal.reason).toBeInstanceOf(HttpError);
  });

  it('answers 503 when Redis is not there', async () => {
    const store = RedisQuotaStore.connect('redis://127.0.0.1:1');
    const guard = createQuotaGuard(quotasSchema.parse({ default: { requestsPerDay: 1 } }), store);
    await expect(guard.admit({ user: { id: 'u', name: 'u' } }, 1)).rejects.toMatchObject({ status: 503 });
    await store.close();
  });
});

describe('quota scopes from config', () => {
  const config = quotasSchema.parse({
    default: { requestsPerDay: 100, tokensPerDay: 50_000 },
    users: { vip: { requestsPerDay: 1000 }, capped: { tokensPerDay: 10 } },
    groups: {
      team: { requestsPerDay: 150, members: ['vip', 'ann'] },
      nolimit: { members: ['ann'] },
      aaa: { tokensPerDay: 7, members: ['ann'] },
    },
  });

  it("takes the user's own entry field by field over the default, and adds every group listed", () => {
    expect(quotaScopesFor(config, 'vip')).toEqual([
      { key: 'user:vip', kind: 'user', name: 'vip', limits: { requests: 1000, tokens: 50_000 } },
      { key: 'group:team', kind: 'group', name: 'team', limits: { requests: 150, tokens: undefined } },
    ]);
    expect(quotaScopesFor(config, 'capped')).toEqual([
      { key: 'user:capped', kind: 'user', name: 'capped', limits: { requests: 100, tokens: 10 } },
    ]);
    expect(quotaScopesFor(config, 'ann').map((s) => s.key)).toEqual(['user:ann', 'group:aaa', 'group:team']);
  });

  it('charges nothing when nothing is limited', () => {
    expect(quotaScopesFor(quotasSchema.parse({}), 'anyone')).toEqual([]);
  });
});

describe('createQuotaGuard', () => {
  const ctx = (name: string) => ({ user: { id: `id-${name}`, name } });

  it('refuses with 429, a rate-limit error and Retry-After until 00:00 UTC', async () => {
    const guard = createQuotaGuard(
      quotasSchema.parse({ default: { requestsPerDay: 1 } }),
      new MemoryQuotaStore(),
      () => new Date('2030-05-17T22:30:00Z'),
    );
    await guard.admit(ctx('lee'), 10);
    const err = await guard.admit(ctx('lee'), 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ status: 429, type: 'rate_limit_error', retryAfter: 5400 });
    expect((err as HttpError).message).toMatch(
      /^daily request quota spent: user lee may make 1 chat requests per UTC day/,
    );
  });

  it('shares a group limit between its members and gives back what a refused request took', async () => {
    const store = new MemoryQuotaStore();
    const config = quotasSchema.parse({
      default: { requestsPerDay: 5 },
      groups: { pair: { requestsPerDay: 3, members: ['mia', 'ned'] } },
    });
    const guard = createQuotaGuard(config, store, () => NOON);
    await guard.admit(ctx('mia'), 0);
    await guard.admit(ctx('mia'), 0);
    await guard.admit(ctx('ned'), 0);
    const err = await guard.admit(ctx('ned'), 0).catch((e: unknown) => e);
    expect((err as HttpError).message).toMatch(/group pair may make 3/);
    // ned's own counter holds just the one admitted request: 4 more fit under his limit of 5.
    for (let i = 0; i < 4; i++)
      expect((await store.reserve('user:ned', { requests: 5 }, 0, NOON)).ok).toBe(true);
    expect((await store.reserve('user:ned', { requests: 5 }, 0, NOON)).ok).toBe(false);
    // Someone outside the group is not affected.
    await guard.admit(ctx('out'), 0);
  });

  it('names the token limit when the estimate does not fit, and settles to actual use', async () => {
    const guard = createQuotaGuard(
      quotasSchema.parse({ default: { tokensPerDay: 1000 } }),
      new MemoryQuotaStore(),
      () => NOON,
    );
    const reservations = await guard.admit(ctx('oz'), 900);
    const err = await guard.admit(ctx('oz'), 200).catch((e: unknown) => e);
    expect((err as HttpError).message).toMatch(/^daily token quota spent: user oz may use 1000 tokens/);
    await guard.settle(reservations, 300);
    await guard.admit(ctx('oz'), 700);
  });

  it('admits without touching the store when no limit applies', async () => {
    const store: QuotaStore = {
      reserve: () => Promise.reject(new Error('should not be asked')),
      settle: () => Promise.resolve(),
      release: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
    expect(await createQuotaGuard(quotasSchema.parse({}), store).admit(ctx('free'), 10)).toEqual([]);
  });
});
