import { describe, expect, it } from 'vitest';
import { RefreshingCache } from './refreshing-cache.js';

/** A lookup whose answers the test releases one by one, counting the calls. */
function scriptedLookup() {
  const calls: { resolve: (v: string) => void; reject: (e: Error) => void }[] = [];
  const load = () =>
    new Promise<string>((resolve, reject) => {
      calls.push({ resolve, reject });
    });
  return { calls, load };
}

function setUp() {
  let clock = 0;
  const lookup = scriptedLookup();
  const cache = new RefreshingCache<string, string>({
    max: 100,
    ttlMs: 30_000,
    refreshAfterMs: 15_000,
    load: lookup.load,
    now: () => clock,
  });
  return {
    cache,
    calls: lookup.calls,
    advance: (ms: number) => {
      clock += ms;
    },
    /** 'tok' looked up once (as 'v1') at the current time. */
    async remember() {
      const first = cache.get('tok');
      lookup.calls.at(-1)!.resolve('v1');
      await first;
    },
  };
}

/** Whether a promise has settled by the time pending callbacks have run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

describe('RefreshingCache', () => {
  it('runs one lookup for a burst of concurrent misses and gives every caller its answer', async () => {
    const { cache, calls } = setUp();
    const answers = Array.from({ length: 100 }, () => cache.get('tok'));
    expect(calls).toHaveLength(1);
    calls[0]!.resolve('alice');
    expect(await Promise.all(answers)).toEqual(Array(100).fill('alice'));
    // Remembered: the next request does not ask again.
    expect(await cache.get('tok')).toBe('alice');
    expect(calls).toHaveLength(1);
  });

  it('answers a hit past refreshAfterMs at once and refreshes it with one lookup in the background', async () => {
    const { cache, calls, advance, remember } = setUp();
    await remember();
    advance(20_000);
    const hits = Array.from({ length: 10 }, () => cache.get('tok'));
    for (const hit of hits) expect(await settled(hit)).toBe(true);
    expect(await Promise.all(hits)).toEqual(Array(10).fill('v1'));
    expect(calls).toHaveLength(2);
    calls[1]!.resolve('v2');
    await new Promise((r) => setImmediate(r));
    expect(await cache.get('tok')).toBe('v2');
    expect(calls).toHaveLength(2);
  });

  it('never serves an answer older than the TTL: the request waits for a new lookup', async () => {
    const { cache, calls, advance, remember } = setUp();
    await remember();
    advance(30_000);
    const late = cache.get('tok');
    expect(await settled(late)).toBe(false);
    expect(calls).toHaveLength(2);
    calls[1]!.resolve('v2');
    expect(await late).toBe('v2');
  });

  it('counts an answer’s age from when its lookup started', async () => {
    const { cache, calls, advance } = setUp();
    const first = cache.get('tok');
    advance(10_000); // a slow query
    calls[0]!.resolve('v1');
    await first;
    advance(20_000); // 30 s after the lookup began: expired, though stored only 20 s ago
    const late = cache.get('tok');
    expect(await settled(late)).toBe(false);
    expect(calls).toHaveLength(2);
  });

  it('after clear (a revocation), an answer read before it is neither stored nor shared', async () => {
    const { cache, calls } = setUp();
    const before = cache.get('tok');
    expect(calls).toHaveLength(1);
    cache.clear();
    // A request after the revocation does not join the lookup that began before it.
    const after = cache.get('tok');
    expect(calls).toHaveLength(2);
    calls[0]!.resolve('live'); // read before the revocation
    calls[1]!.resolve('revoked');
    expect(await before).toBe('live');
    expect(await after).toBe('revoked');
    expect(await cache.get('tok')).toBe('revoked');
    expect(calls).toHaveLength(2);
  });

  it('after delete, a lookup in flight for that key is not stored', async () => {
    const { cache, calls } = setUp();
    const before = cache.get('user-1');
    cache.delete('user-1');
    calls[0]!.resolve('enabled');
    expect(await before).toBe('enabled');
    const again = cache.get('user-1');
    expect(calls).toHaveLength(2);
    calls[1]!.resolve('disabled');
    expect(await again).toBe('disabled');
  });

  it('keeps serving the entry when a background refresh fails, and the failure reaches whoever finds it expired', async () => {
    const { cache, calls, advance, remember } = setUp();
    await remember();
    advance(16_000);
    expect(await cache.get('tok')).toBe('v1');
    calls[1]!.reject(new Error('database down'));
    await new Promise((r) => setImmediate(r));
    expect(await cache.get('tok')).toBe('v1'); // and a new refresh starts
    expect(calls).toHaveLength(3);
    calls[2]!.reject(new Error('database down'));
    await new Promise((r) => setImmediate(r));
    advance(14_000);
    const late = cache.get('tok');
    calls[3]!.reject(new Error('database still down'));
    await expect(late).rejects.toThrow('database still down');
  });

  it('does not let a stuck lookup hold requests past refreshAfterMs: a later one starts its own', async () => {
    const { cache, calls, advance } = setUp();
    const stuck = cache.get('tok');
    advance(10_000);
    cache.get('tok'); // joins: 10 s is still a slow answer
    expect(calls).toHaveLength(1);
    advance(5_000);
    const fresh = cache.get('tok');
    expect(calls).toHaveLength(2);
    calls[1]!.resolve('alice');
    expect(await fresh).toBe('alice');
    calls[0]!.resolve('stale'); // the stuck one answers at last: not stored over the newer answer
    expect(await stuck).toBe('stale');
    expect(await cache.get('tok')).toBe('alice');
    expect(calls).toHaveLength(2);
  });

  it('does not remember a failed lookup: the next request tries again', async () => {
    const { cache, calls } = setUp();
    const first = cache.get('tok');
    calls[0]!.reject(new Error('connection refused'));
    await expect(first).rejects.toThrow('connection refused');
    const second = cache.get('tok');
    expect(calls).toHaveLength(2);
    calls[1]!.resolve('alice');
    expect(await second).toBe('alice');
  });

  it('keeps separate keys apart and stays within max entries', async () => {
    let loads = 0;
    const cache = new RefreshingCache<string, string>({
      max: 2,
      ttlMs: 30_000,
      refreshAfterMs: 15_000,
      load: async (k) => {
        loads++;
        return k.toUpperCase();
      },
    });
    expect(await cache.get('a')).toBe('A');
    expect(await cache.get('b')).toBe('B');
    expect(await cache.get('c')).toBe('C'); // evicts a
    expect(loads).toBe(3);
    expect(await cache.get('c')).toBe('C');
    expect(loads).toBe(3);
    expect(await cache.get('a')).toBe('A');
    expect(loads).toBe(4);
  });

  it('refuses a refresh point at or past the TTL', () => {
    expect(() => new RefreshingCache({ max: 1, ttlMs: 10, refreshAfterMs: 10, load: async () => 1 })).toThrow(
      'refreshAfterMs must be below ttlMs',
    );
  });
});
