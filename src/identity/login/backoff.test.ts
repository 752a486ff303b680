import { describe, expect, it } from 'vitest';
import { ADDRESS_POLICY, delayAfter, LoginBackoff, USER_POLICY } from './backoff.js';

describe('login backoff', () => {
  it('doubles the delay per failure past the free ones, capped at 5 minutes', () => {
    expect([1, 2, 3, 4, 5].map((n) => delayAfter(n, USER_POLICY))).toEqual([0, 1000, 2000, 4000, 8000]);
    expect(delayAfter(40, USER_POLICY)).toBe(300_000);
    expect([3, 4, 5].map((n) => delayAfter(n, ADDRESS_POLICY))).toEqual([0, 1000, 2000]);
  });

  it('blocks a user name (any case) until its delay has passed; success clears it', () => {
    let now = 1_000_000;
    const b = new LoginBackoff({ now: () => now });
    const keys = { user: 'Alice', address: '10.0.0.1' };
    b.recordFailure(keys);
    expect(b.retryAfterMs(keys)).toBe(0);
    b.recordFailure(keys);
    expect(b.retryAfterMs({ user: 'alice', address: '10.0.0.2' })).toBe(1000);
    expect(b.failures({ user: 'ALICE', address: '10.0.0.9' })).toBe(2);
    now += 1000;
    expect(b.retryAfterMs(keys)).toBe(0);
    b.recordFailure(keys);
    expect(b.retryAfterMs(keys)).toBe(2000);
    b.recordSuccess('alice');
    expect(b.failures({ user: 'alice', address: '10.0.0.2' })).toBe(0);
    // The address keeps its record: it may be shared by others still guessing.
    expect(b.failures({ address: '10.0.0.1' })).toBe(3);
  });

  it('blocks an address spraying many user names', () => {
    const now = 5_000;
    const b = new LoginBackoff({ now: () => now });
    for (const user of ['a', 'b', 'c', 'd', 'e']) b.recordFailure({ user, address: '10.0.0.7' });
    expect(b.retryAfterMs({ user: 'fresh', address: '10.0.0.7' })).toBe(2000);
    expect(b.retryAfterMs({ user: 'fresh', address: '10.0.0.8' })).toBe(0);
  });

  it('forgets a key after a quiet period', () => {
    let now = 1_000_000;
    const b = new LoginBackoff({ now: () => now, forgetAfterMs: 60_000 });
    b.recordFailure({ user: 'x', address: 'y' });
    b.recordFailure({ user: 'x', address: 'y' });
    now += 61_000;
    expect(b.failures({ user: 'x', address: 'y' })).toBe(0);
  });
});
