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
  browser = new Browser(shenma.url),
): Promise<{ browser: Browser; callback: string }> {
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
  // Even before the password, the page says a remote IDE is asking.
  expect(html).toContain(
    `An IDE (machine ${machineCode ?? 'machine-1'}, plugin version 2.0.0) asks to sign in.`,
  );
  const posted = await browser.request(url, {
    form: { csrf: formField(html, 'csrf') ?? '', username: 'tester', password: 'tester-password-1' },
  });
  const { stoppedAt } = await browser.follow(posted, `${shenma.url}${BASE}/login/callback`);
  expect(stoppedAt).toBeDefined();
  return { browser, callback: stoppedAt! };
}

/** Opens the callback in the browser: the confirmation page, with its form fields. */
async function confirmationPage(browser: Browser, callback: string) {
  const res = await browser.request(callback);
  const html = await res.text();
  return {
    status: res.status,
    html,
    csp: res.headers.get('content-security-policy') ?? '',
    fields: {
      confirm_id: formField(html, 'confirm_id') ?? '',
      csrf: formField(html, 'csrf') ?? '',
    },
  };
}

async function decide(browser: Browser, fields: Record<string, string>, decision: 'allow' | 'refuse') {
  return browser.request(`${shenma.url}${BASE}/login/confirm`, { form: { ...fields, decision } });
}

describe('polling login handoff', () => {
  it('delivers tokens once to the IDE that started the login', async () => {
    const state = randomBytes(8).toString('hex');
    const { browser, callback } = await browserLogin(state);

    const early = await (await poll(params(state))).json();
    expect(early).toMatchObject({ success: false, message: 'pending' });

    const confirm = await confirmationPage(browser, callback);
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain(
      'An IDE (machine machine-1, plugin version 2.0.0) asks to sign in as tester. Continue only if you just pressed Login in your IDE.',
    );
    // Still pending until the person presses Continue.
    expect(await (await poll(params(state))).json()).toMatchObject({ success: false, message: 'pending' });
    const done = await decide(browser, confirm.fields, 'allow');
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('<h1>Signed in</h1>');

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
    const confirm = await confirmationPage(browser, callback);
    expect((await decide(browser, confirm.fields, 'allow')).status).toBe(200);
    // Replaying the callback (same nonce and code) finds nothing; so does a second decision.
    expect((await decide(browser, confirm.fields, 'refuse')).status).toBe(400);
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

/**
 * The attack of issue #7 item 1: an attacker starts a polling login with a state of its own and
 * sends the link to someone whose browser is signed in to Shenma. Before the fix the login
 * completed in the victim's browser without a page, and the attacker's poll got the victim's
 * tokens. Now the victim's browser always stops at a confirmation page; the attacker's poll
 * stays pending, and after a refusal (or without the victim's click) gets nothing, ever.
 */
describe('polling login: a link sent to a signed-in victim', () => {
  let victim: Browser;

  beforeAll(async () => {
    // The victim signed in earlier (here: a polling login of their own, confirmed).
    victim = new Browser(shenma.url);
    const { callback } = await browserLogin(randomBytes(8).toString('hex'), 'victim-pc', victim);
    const confirm = await confirmationPage(victim, callback);
    expect((await decide(victim, confirm.fields, 'allow')).status).toBe(200);
  });

  it('never completes silently: the browser is asked, and a refusal is never polled into tokens', async () => {
    const state = randomBytes(8).toString('hex');
    const link = `${shenma.url}${BASE}/login?${params(state, 'attacker-box')}`;
    // The attacker polls from the start and keeps polling.
    expect((await poll(params(state, 'attacker-box'))).status).toBe(404);

    // The victim opens the link: their live session skips the password form...
    const { res, stoppedAt } = await victim.follow(
      await victim.request(link),
      `${shenma.url}${BASE}/login/callback`,
    );
    expect([302, 303]).toContain(res.status);
    expect(stoppedAt).toBeDefined();
    // ...but not the question.
    const confirm = await confirmationPage(victim, stoppedAt!);
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain('machine attacker-box');
    expect(confirm.html).toContain('asks to sign in as tester');
    // Nothing submits it by itself: no script may run, and the page cannot be framed.
    expect(confirm.html).not.toMatch(/<script/i);
    expect(confirm.csp).toContain("default-src 'none'");
    expect(confirm.csp).not.toContain('script-src');
    expect(confirm.csp).toContain("frame-ancestors 'none'");

    const attackerPoll = await (await poll(params(state, 'attacker-box'))).json();
    expect(attackerPoll).toMatchObject({ success: false, message: 'pending' });

    // A forged confirmation (another site's form, no cookie; or a wrong CSRF token) is refused.
    const forged = await fetch(`${shenma.url}${BASE}/login/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...confirm.fields, decision: 'allow' }).toString(),
    });
    expect(forged.status).toBe(403);
    const wrongCsrf = await decide(victim, { ...confirm.fields, csrf: 'x'.repeat(43) }, 'allow');
    expect(wrongCsrf.status).toBe(403);
    expect((await (await poll(params(state, 'attacker-box'))).json()).message).toBe('pending');

    // The victim refuses.
    const refused = await decide(victim, confirm.fields, 'refuse');
    expect(refused.status).toBe(200);
    expect(await refused.text()).toContain('refused');
    for (let i = 0; i < 3; i++) {
      const after = await poll(params(state, 'attacker-box'));
      expect(after.status).toBe(404);
      const body = await after.json();
      expect(JSON.stringify(body)).not.toMatch(/access_token|refresh_token/);
    }
    // And it cannot be confirmed afterwards either.
    expect((await decide(victim, confirm.fields, 'allow')).status).toBe(400);
    expect((await poll(params(state, 'attacker-box'))).status).toBe(404);
  });

  it("a start made by the attacker cannot be finished in the victim's browser", async () => {
    const state = randomBytes(8).toString('hex');
    // The attacker starts the login itself and sends the provider link it got.
    const started = await fetch(`${shenma.url}${BASE}/login?${params(state, 'attacker-box')}`, {
      redirect: 'manual',
    });
    expect(started.status).toBe(302);
    const authLink = started.headers.get('location')!;
    const { stoppedAt } = await victim.follow(
      await victim.request(authLink),
      `${shenma.url}${BASE}/login/callback`,
    );
    expect(stoppedAt).toBeDefined();
    const page = await victim.request(stoppedAt!);
    expect(page.status).toBe(403);
    expect(await page.text()).not.toContain('name="confirm_id"');
    expect((await poll(params(state, 'attacker-box'))).status).toBe(404);
  });
});
