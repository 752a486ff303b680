import { describe, expect, it } from 'vitest';
import { MemoryEphemeralStore } from '../storage/ephemeral.js';
import { COLLECT_TTL_MS, LOGIN_TTL_MS, type PendingLogin, PluginLoginStates } from './plugin-login-states.js';

function login(state: string): PendingLogin {
  return {
    state,
    machineCode: 'm',
    pluginVersion: '2.0.0',
    nonce: `nonce-${state}`,
    verifier: 'v',
    browser: 'b',
    phase: 'started',
  };
}

describe('polling login states', () => {
  it('expire in minutes: an expired start is unknown to the callback and the poller', async () => {
    const clock = { now: 1_000_000 };
    const states = new PluginLoginStates(new MemoryEphemeralStore({ now: () => clock.now }));
    expect(await states.start(login('state-aaaa'))).toBe(true);
    expect(LOGIN_TTL_MS).toBeLessThanOrEqual(10 * 60_000);
    clock.now += LOGIN_TTL_MS + 1;
    expect(await states.get('state-aaaa')).toBeUndefined();
    expect(await states.byNonce('nonce-state-aaaa', true)).toBeUndefined();
  });

  it('a state is single-use, even after its login is gone', async () => {
    const clock = { now: 1_000_000 };
    const states = new PluginLoginStates(new MemoryEphemeralStore({ now: () => clock.now }));
    expect(await states.start(login('state-bbbb'))).toBe(true);
    expect(await states.start(login('state-bbbb'))).toBe(false);
    clock.now += LOGIN_TTL_MS + 1;
    expect(await states.start(login('state-bbbb'))).toBe(false);
  });

  it('hands a confirmed login out once; never one that is awaiting or refused', async () => {
    const clock = { now: 1_000_000 };
    const states = new PluginLoginStates(new MemoryEphemeralStore({ now: () => clock.now }));
    const l = login('state-cccc');
    await states.start(l);
    const tokens = { access_token: 'a', refresh_token: 'r' };
    await states.save({ ...l, phase: 'awaiting', tokens }, LOGIN_TTL_MS);
    expect(await states.collect('state-cccc')).toBeUndefined();
    await states.start(login('state-dddd'));
    await states.save({ ...login('state-dddd'), phase: 'confirmed', tokens }, COLLECT_TTL_MS);
    expect((await states.collect('state-dddd'))?.tokens).toEqual(tokens);
    expect(await states.collect('state-dddd')).toBeUndefined();
  });
});
