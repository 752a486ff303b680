import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate-limit.js';

describe('token bucket rate limiter', () => {
  it('allows a burst of capacity, then refills over time', () => {
    let now = 0;
    const limiter = createRateLimiter({ capacity: 3, refillPerMinute: 6, maxClients: 10, now: () => now });
    for (let i = 0; i < 3; i++) expect(limiter.take('a')).toEqual({ allowed: true });
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterSeconds: 10 });
    now += 10_000; // 6 a minute: one token every 10 s
    expect(limiter.take('a')).toEqual({ allowed: true });
    expect(limiter.take('a').allowed).toBe(false);
  });

  it('keeps separate buckets per key', () => {
    const limiter = createRateLimiter({ capacity: 1, refillPerMinute: 1, maxClients: 10, now: () => 0 });
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false);
    expect(limiter.take('b').allowed).toBe(true);
  });

  it('tracks at most maxClients keys, forgetting the least recently seen', () => {
    const limiter = createRateLimiter({ capacity: 1, refillPerMinute: 1, maxClients: 2, now: () => 0 });
    limiter.take('a');
    limiter.take('b');
    limiter.take('a'); // a is now the most recently seen (and still empty)
    limiter.take('c'); // evicts b
    expect(limiter.take('a').allowed).toBe(false);
    expect(limiter.take('b').allowed).toBe(true);
  });
});
