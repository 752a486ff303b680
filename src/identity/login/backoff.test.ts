import { describe, expect, it } from 'vitest';
import { MemoryEphemeralStore } from '../../storage/ephemeral.js';
import { ADDRESS_POLICY, delayAfter, LoginBackoff, PAIR_POLICY, userNameKey } from './backoff.js';
import { captchaAfterFailures } from './handler.js';

function clocked(start = 1_000_000) {
  const clock = { now: start };
  const store = new MemoryEphemeralStore({ now: () => clock.now });
  return { clock, store, backoff: new LoginBackoff(store, { now: () => clock.now }) };
}

describe('login backoff', () => {
  it('doubles the delay per failure past the free ones, capped at 5 minutes', () => {
    expect([1, 2, 3, 4, 5].map((n) => delayAfter(n, PAIR_POLICY))).toEqual([0, 1000, 2000, 4000, 8000]);
    expect(delayAfter(40, PAIR_POLICY)).toBe(300_000);
    expect([30, 31, 32].map((n) => delayAfter(n, ADDRESS_POLICY))).toEqual([0, 1000, 2000]);
  });

  it('delays one user name (any case) at the address that failed; success clears that pair', async () => {
    const { clock, backoff } = clocked();
    const keys = { user: 'Alice', address: '10.0.0.1' };
    await backoff.recordFailure(keys);
    expect((await backoff.status(keys)).retryAfterMs).toBe(0);
    await backoff.recordFailure({ user: 'alice', address: '10.0.0.1' });
    expect((await backoff.status({ user: 'ALICE', address: '10.0.0.1' })).retryAfterMs).toBe(1000);
    clock.now += 1000;
    expect((await backoff.status(keys)).retryAfterMs).toBe(0);
    await backoff.recordFailure(keys);
    expect((await backoff.status(keys)).retryAfterMs).toBe(2000);
    await backoff.recordSuccess(keys);
    const after = await backoff.status(keys);
    expect(after.pairFailures).toBe(0);
    expect(after.retryAfterMs).toBe(0);
    // The address and the name keep their counts: others may be guessing.
    expect(after.addressFailures).toBe(3);
    expect(after.userFailures).toBe(3);
  });

  it('never delays the right password from an address that has not failed (no lock-out)', async () => {
    const { backoff } = clocked();
    // Many attackers, many addresses, one victim.
    for (let i = 0; i < 50; i++) {
      for (let j = 0; j < 3; j++) await backoff.recordFailure({ user: 'victim', address: `192.0.2.${i}` });
    }
    expect((await backoff.status({ user: 'victim', address: '192.0.2.7' })).retryAfterMs).toBeGreaterThan(0);
    const victim = await backoff.status({ user: 'victim', address: '10.1.1.1' });
    expect(victim.retryAfterMs).toBe(0);
    // ... but the guessing spread over addresses makes the victim's form ask for a captcha.
    expect(victim.userFailures).toBe(150);
    expect(captchaAfterFailures(victim)).toBe(true);
  });

  it('an office behind one address: two typos of one person put no captcha before anyone else', async () => {
    const { backoff } = clocked();
    const office = '203.0.113.5';
    await backoff.recordFailure({ user: 'alice', address: office });
    await backoff.recordFailure({ user: 'alice', address: office });
    expect(captchaAfterFailures(await backoff.status({ user: 'alice', address: office }))).toBe(true);
    const bob = await backoff.status({ user: 'bob', address: office });
    expect(captchaAfterFailures(bob)).toBe(false);
    expect(bob.retryAfterMs).toBe(0);
  });

  it('an address spraying many user names meets a captcha, then delays', async () => {
    const { backoff } = clocked();
    const sprayer = '198.51.100.7';
    for (let i = 0; i < 20; i++) await backoff.recordFailure({ user: `user${i}`, address: sprayer });
    const fresh = await backoff.status({ user: 'fresh', address: sprayer });
    expect(captchaAfterFailures(fresh)).toBe(true);
    expect(fresh.retryAfterMs).toBe(0);
    for (let i = 20; i < 32; i++) await backoff.recordFailure({ user: `user${i}`, address: sprayer });
    expect((await backoff.status({ user: 'fresh', address: sprayer })).retryAfterMs).toBe(2000);
    expect((await backoff.status({ user: 'fresh', address: '198.51.100.8' })).retryAfterMs).toBe(0);
  });

  it('forgets a key after a quiet period', async () => {
    const clock = { now: 1_000_000 };
    const store = new MemoryEphemeralStore({ now: () => clock.now });
    const backoff = new LoginBackoff(store, { now: () => clock.now, forgetAfterMs: 60_000 });
    await backoff.recordFailure({ user: 'x', address: 'y' });
    await backoff.recordFailure({ user: 'x', address: 'y' });
    clock.now += 61_000;
    expect((await backoff.status({ user: 'x', address: 'y' })).pairFailures).toBe(0);
  });

  it('keeps no user name in the store keys', () => {
    expect(userNameKey('Secret-Password-1')).not.toContain('Secret');
    expect(userNameKey('ALICE')).toBe(userNameKey(' alice '));
  });
});
