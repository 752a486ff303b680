import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, formField } from './support/login-browser.js';
import { type JsonResponse, startTestShenma, type TestShenma } from './support/shenma.js';

const get = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, { headers }) as Promise<JsonResponse>;

/**
 * The polling login of the later client (docs/protocol.md §7.2): the IDE opens /plugin/login in a
 * browser, the user logs in, and the IDE polls /plugin/login/token for the tokens, which Shenma
 * obtained itself with PKCE. Then status, refresh and logout as that client calls them.
 */

const BASE = '/oidc-auth/api/v1/plugin';
let shenma: TestShenma;

beforeAll(async () => {
  shenma = await startTestShenma({ identity: { captcha: 'off' } });
});
afterAll(async () => {
  await shenma?.close();
});

function params(state: string, machineCode = 'machine-1') {
  return new URLSearchParams({
    machine_code: machineCode,
    state,
    provider: 'casdoor',
    plugin_version: '2.0.0',
    vscode_version: '1.98.2',
    uri_scheme: 'vscode',
  }).toString();
}

const poll = (q: string, headers: Record<string, string> = {}) =>
  get(`${shenma.url}${BASE}/login/token?${q}`, headers);

/** Runs the browser part and returns the callback URL the provider sent the browser to. */
async function browserLogin(
  state: string,
  machineCode?: string,
): Promise<{ browser: Browser; callback: string }> {
  const browser = new Browser(shenma.url);
  const start = await browser.request(`${shenma.url}${BASE}/login?${params(state, machineCode)}`);
  expect(start.status).toBe(302);
  const auth = new URL(start.headers.get('location')!);
  expect(auth.pathname).toBe('/realms/gw/protocol/openid-connect/auth');
  expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
  // The provider sees Shenma's own nonce, never the IDE's state.
  expect(auth.searchParams.get('state')).not.toBe(state);
  const { res, url } = await browser.follow(
    await browser.request(auth.href),
    `${shenma.url}${BASE}/login/callback`,
  );
  const html = await res.text();
  const posted = await browser.request(url, {
    form: { csrf: formField(html, 'csrf') ?? '', username: 'tester', password: 'tester-password-1' },
  });
  const { stoppedAt } = await browser.follow(posted, `${shenma.url}${BASE}/login/callback`);
  expect(stoppedAt).toBeDefined();
  return { browser, callback: stoppedAt! };
}

describe('polling login handoff', () => {
  it('delivers tokens once to the IDE that started the login', async () => {
    const state = randomBytes(8).toString('hex');
    const { browser, callback } = await browserLogin(state);

    const early = await (await poll(params(state))).json();
    expect(early).toMatchObject({ success: false, message: 'pending' });

    const done = await browser.request(callback);
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Login succeeded');

    // Another machine polling the same state gets nothing.
    expect((await poll(params(state, 'machine-2'))).status).toBe(404);
    const got = await (await poll(params(state))).json();
    expect(got.success).toBe(true);
    expect(got.data.state).toBe(state);
    expect(decodeJwt(got.data.access_token).preferred_username).toBe('tester');
    // Single use: the tokens are handed out once.
    expect((await poll(params(state))).status).toBe(404);

    // The access token works on the APIs and for the status call.
    const completion = await fetch(
      `${shenma.url}/api/configuration?belong_type=language&attribute_key=language_map`,
      {
        headers: { 'api-key': got.data.access_token },
      },
    );
    expect(completion.status).toBe(200);
    const status = await (
      await get(`${shenma.url}${BASE}/login/status?state=${state}`, {
        authorization: `Bearer ${got.data.access_token}`,
      })
    ).json();
    expect(status.data.status).toBe('logged_in');

    // Refresh as the client does it: the refresh token as Bearer, no machine_code.
    const refreshed = await (
      await poll(`state=${state}&provider=casdoor`, { authorization: `Bearer ${got.data.refresh_token}` })
    ).json();
    expect(refreshed.success).toBe(true);
    expect(decodeJwt(refreshed.data.access_token).preferred_username).toBe('tester');

    const logout = await fetch(
      `${shenma.url}${BASE}/logout?refresh_token=${encodeURIComponent(got.data.refresh_token)}`,
      { headers: { authorization: `Bearer ${got.data.access_token}` } },
    );
    expect(logout.status).toBe(200);
    const afterLogout = await poll(`state=${state}`, { authorization: `Bearer ${got.data.refresh_token}` });
    expect(afterLogout.status).toBe(401);
  });

  it('refuses a reused state, a replayed callback and unknown states', async () => {
    const state = randomBytes(8).toString('hex');
    const { browser, callback } = await browserLogin(state);
    expect((await browser.request(callback)).status).toBe(200);
    // Replaying the callback (same nonce and code) finds nothing.
    const replay = await browser.request(callback);
    expect(replay.status).toBe(400);

    const again = await get(`${shenma.url}${BASE}/login?${params(state)}`);
    expect(again.status).toBe(400);
    expect((await again.json()).error.param).toBe('state');

    const forged = await fetch(`${shenma.url}${BASE}/login/callback?state=not-a-nonce&code=abc`);
    expect(forged.status).toBe(400);
    expect((await poll(params('unknown-state-123'))).status).toBe(404);

    const status = await get(`${shenma.url}${BASE}/login/status`);
    expect(status.status).toBe(401);
    expect((await status.json()).data.status).toBe('logged_out');
  });
});
