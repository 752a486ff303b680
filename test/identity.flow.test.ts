import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as keysCommand } from '../src/cli/keys.js';
import { parseConfig } from '../src/config/load.js';
import { EXTENSION_CLIENT_SECRET, type ShenmaConfigInput } from '../src/config/schema.js';
import { KEYS_FILE } from '../src/identity/keys.js';
import { UserStore } from '../src/identity/users.js';
import { startEmbedded } from '../src/server/embedded.js';
import { Browser, formField } from './support/login-browser.js';
import { createScratchDatabase, postgresReachable, type ScratchDatabase } from './support/postgres.js';
import { extensionBody, type JsonResponse, startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * The login of the Zhuge Shenma extension 1.2.x against the embedded provider, request by
 * request as the extension and a browser make them (docs/protocol.md §3): authorize, log in on
 * our page, code at /login/ok, token exchange, refresh with one token many times, logout.
 */

const MODELS: ShenmaConfigInput['models'] = [
  { name: 'coder', kind: 'openai', url: 'http://127.0.0.1:9/v1', family: 'deepseek-coder' },
];
const OIDC = '/realms/gw/protocol/openid-connect';

/** A browser as far as this flow needs one: cookies by path, redirects followed by hand. */
function authorizeUrl(publicUrl: string, state: string, redirectUri = `${publicUrl}/login/ok`): string {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: 'vscode',
    redirect_uri: redirectUri,
    state,
    scope: 'openid profile email',
  });
  return `${publicUrl}${OIDC}/auth?${q.toString()}`;
}

/** Opens the authorize URL and returns the login page (its URL and HTML). */
async function openLoginPage(browser: Browser, publicUrl: string, state: string) {
  const first = await browser.request(authorizeUrl(publicUrl, state));
  const { res, url } = await browser.follow(first, `${publicUrl}/login/ok`);
  expect(res.status).toBe(200);
  return { url, html: await res.text(), res };
}

async function submitLogin(
  browser: Browser,
  page: { url: string; html: string },
  fields: Record<string, string>,
) {
  const csrf = formField(page.html, 'csrf') ?? '';
  return browser.request(page.url, { form: { csrf, ...fields } });
}

/** The whole browser part: returns the /login/ok URL the provider redirected to. */
async function loginAs(shenma: { url: string }, username: string, password: string, state: string) {
  const browser = new Browser(shenma.url);
  const page = await openLoginPage(browser, shenma.url, state);
  const posted = await submitLogin(browser, page, { username, password });
  const { stoppedAt } = await browser.follow(posted, `${shenma.url}/login/ok`);
  return { browser, callback: stoppedAt, posted };
}

function tokenRequest(
  base: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  return fetch(`${base}${OIDC}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ide: 'vscode',
      'ide-version': '1.2.0',
      'ide-real-version': '1.98.2',
      'host-ip': '10.0.0.5',
      ...headers,
    },
    body: new URLSearchParams(form).toString(),
  });
}

const newState = () => randomBytes(6).toString('hex');

describe('extension login through the embedded provider', () => {
  let shenma: TestShenma;
  /** From the login test; still valid after logout (access tokens are not revocable JWTs). */
  let issuedAccessToken: string | undefined;

  beforeAll(async () => {
    shenma = await startTestShenma({ models: MODELS });
  });
  afterAll(async () => {
    await shenma?.close();
  });

  it('serves the Keycloak discovery document paths', async () => {
    const res: JsonResponse = await fetch(`${shenma.url}/realms/gw/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const doc = await res.json();
    const base = `${shenma.url}${OIDC}`;
    expect(doc).toMatchObject({
      issuer: `${shenma.url}/realms/gw`,
      authorization_endpoint: `${base}/auth`,
      token_endpoint: `${base}/token`,
      end_session_endpoint: `${base}/logout`,
      jwks_uri: `${base}/certs`,
      userinfo_endpoint: `${base}/userinfo`,
      revocation_endpoint: `${base}/revoke`,
      introspection_endpoint: `${base}/token/introspect`,
    });
    // The extension's base URL may end in a slash; it concatenates paths.
    const doubled = await fetch(`${shenma.url}//realms/gw/.well-known/openid-configuration`);
    expect(doubled.status).toBe(200);
    expect((await fetch(`${shenma.url}/realms/other/.well-known/openid-configuration`)).status).toBe(404);
  });

  it('logs in, exchanges the code, refreshes twice with one token, logs out as the extension does', async () => {
    const state = newState();
    expect(state).toMatch(/^[0-9a-f]{12}$/);
    const { callback, browser } = await loginAs(shenma, 'tester', 'tester-password-1', state);
    expect(callback).toBeDefined();
    const back = new URL(callback!);
    expect(`${back.origin}${back.pathname}`).toBe(`${shenma.url}/login/ok`);
    expect(back.searchParams.get('state')).toBe(state);
    expect(back.searchParams.get('session_state')).toBeTruthy();
    const code = back.searchParams.get('code');
    expect(code).toBeTruthy();

    const exchanged = await tokenRequest(shenma.url, {
      client_id: 'vscode',
      client_secret: EXTENSION_CLIENT_SECRET,
      code: code!,
      grant_type: 'authorization_code',
      redirect_uri: `${shenma.url}/login/ok`,
    });
    expect(exchanged.status).toBe(200);
    const tokens = await exchanged.json();
    expect(tokens.expires_in).toBe(86_400);
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(tokens.access_token.split('.')).toHaveLength(3);
    const claims = decodeJwt(tokens.access_token);
    expect(claims).toMatchObject({ preferred_username: 'tester', azp: 'vscode', aud: 'vscode' });
    expect(claims.exp! - claims.iat!).toBe(86_400);
    expect(decodeJwt(tokens.id_token)).toMatchObject({ preferred_username: 'tester', aud: 'vscode' });
    // The signature verifies against the published keys.
    const jwks = createRemoteJWKSet(new URL(`${shenma.url}${OIDC}/certs`));
    await jwtVerify(tokens.access_token, jwks, { issuer: `${shenma.url}/realms/gw`, audience: 'vscode' });

    const refresh = () =>
      tokenRequest(shenma.url, {
        client_id: 'vscode',
        client_secret: EXTENSION_CLIENT_SECRET,
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
      });
    for (let i = 0; i < 2; i++) {
      const r = await refresh();
      const body = await r.json();
      expect(r.status, JSON.stringify(body)).toBe(200);
      expect(body.expires_in).toBe(86_400);
      expect(decodeJwt(body.access_token).preferred_username).toBe('tester');
    }

    const logout = await fetch(`${shenma.url}${OIDC}/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ide: 'vscode' },
      body: new URLSearchParams({
        refresh_token: tokens.refresh_token,
        client_id: 'vscode',
        client_secret: EXTENSION_CLIENT_SECRET,
      }).toString(),
    });
    expect([200, 204]).toContain(logout.status);
    const afterLogout = await refresh();
    expect(afterLogout.status).toBe(400);
    expect((await afterLogout.json()).error).toBe('invalid_grant');
    // As with Keycloak, that logout ended the browser session too: the next login asks again.
    const next = await browser.follow(
      await browser.request(authorizeUrl(shenma.url, newState())),
      `${shenma.url}/login/ok`,
    );
    expect(next.stoppedAt).toBeUndefined();
    expect(await next.res.text()).toContain('name="password"');
    // The browser form of logout (id_token_hint) is oidc-provider's own confirmation page.
    const browserLogout = await browser.request(
      `${shenma.url}${OIDC}/logout?${new URLSearchParams({
        id_token_hint: tokens.id_token,
        post_logout_redirect_uri: `${shenma.url}/login/ok`,
      })}`,
    );
    expect(browserLogout.status).toBe(200);
    expect(await browserLogout.text()).toContain('<form');
    // The same form POSTed (RP-initiated logout lets the client choose) goes the same way (without
    // the browser's session cookie, straight to the provider's confirm form); a body that is not a
    // form is refused, saying what logout takes.
    const postedLogout = await fetch(`${shenma.url}${OIDC}/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        id_token_hint: tokens.id_token,
        post_logout_redirect_uri: `${shenma.url}/login/ok`,
      }).toString(),
    });
    expect(postedLogout.status).toBe(200);
    const postedText = await postedLogout.text();
    expect(postedText).toContain(`action="${shenma.url}${OIDC}/logout/confirm"`);
    expect(postedText).toContain('name="xsrf"');
    const jsonLogout = await fetch(`${shenma.url}${OIDC}/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id_token_hint: tokens.id_token }),
    });
    expect(jsonLogout.status).toBe(400);
    expect(await jsonLogout.json()).toMatchObject({
      error: 'invalid_request',
      error_description: expect.stringContaining('application/x-www-form-urlencoded'),
    });
    // The code was single use (a second use would also have revoked the grant).
    const codeAgain = await tokenRequest(shenma.url, {
      client_id: 'vscode',
      client_secret: EXTENSION_CLIENT_SECRET,
      code: code!,
      grant_type: 'authorization_code',
      redirect_uri: `${shenma.url}/login/ok`,
    });
    expect(codeAgain.status).toBe(400);
    issuedAccessToken = tokens.access_token;
  });

  // Depends on the JWT-aware authenticator (createAuthenticator) being wired into the identity
  // role; with only API tokens accepted this answers 401.
  it('the access token is accepted by /v2/completions as a Bearer credential', async () => {
    expect(issuedAccessToken).toBeDefined();
    const completion = await fetch(`${shenma.url}/v2/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${issuedAccessToken}` },
      body: JSON.stringify(extensionBody('def add(a, b):\n    ', '')),
    });
    // The model is unreachable (503); what matters is that the credential passed.
    expect(completion.status).not.toBe(401);
  });

  it('refuses a wrong client secret at the token endpoint with 401 invalid_client', async () => {
    const res = await tokenRequest(shenma.url, {
      client_id: 'vscode',
      client_secret: 'not-the-secret',
      grant_type: 'refresh_token',
      refresh_token: 'whatever',
    });
    expect(res.status).toBe(401);
    expect((await res.json()).error).toBe('invalid_client');
    // Basic auth works as well as the form (client_secret_basic).
    const basic = Buffer.from(`vscode:not-the-secret`).toString('base64');
    const viaBasic = await tokenRequest(
      shenma.url,
      { grant_type: 'refresh_token', refresh_token: 'whatever' },
      { authorization: `Basic ${basic}` },
    );
    expect(viaBasic.status).toBe(401);
  });

  it('logout with a wrong client secret is refused and revokes nothing', async () => {
    const res: JsonResponse = await fetch(`${shenma.url}${OIDC}/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        refresh_token: 'x',
        client_id: 'vscode',
        client_secret: 'wrong',
      }).toString(),
    });
    expect(res.status).toBe(401);
  });

  it('never redirects to a redirect_uri that is not registered', async () => {
    const browser = new Browser(shenma.url);
    const evil = 'https://evil.example/steal';
    const res = await browser.request(authorizeUrl(shenma.url, newState(), evil));
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    const html = await res.text();
    expect(html).toContain('redirect_uri');
    expect(html).not.toContain('<script');
  });

  it('renders the login page in Chinese or English with strict security headers', async () => {
    const zh = new Browser(shenma.url, 'zh-CN,zh;q=0.9,en;q=0.8');
    const zhPage = await openLoginPage(zh, shenma.url, newState());
    expect(zhPage.html).toContain('用户名');
    expect(zhPage.html).toContain('name="username"');
    expect(zhPage.html).toContain('name="password"');
    expect(zhPage.html).not.toContain('<script');
    const csp = zhPage.res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(zhPage.res.headers.get('x-frame-options')).toBe('DENY');
    expect(zhPage.res.headers.get('cache-control')).toBe('no-store');
    // With identity.captcha at its default (after-failures) a first visit asks for none.
    expect(zhPage.html).not.toContain('name="captcha"');

    const en = new Browser(shenma.url, 'en-US,en;q=0.9,zh;q=0.5');
    const enPage = await openLoginPage(en, shenma.url, newState());
    expect(enPage.html).toContain('User name');
  });

  it('refuses a login POST without a CSRF token, or with one from another login', async () => {
    const browser = new Browser(shenma.url);
    const page = await openLoginPage(browser, shenma.url, newState());
    const missing = await browser.request(page.url, {
      form: { username: 'tester', password: 'tester-password-1' },
    });
    expect(missing.status).toBe(403);
    const other = await openLoginPage(new Browser(shenma.url), shenma.url, newState());
    const foreign = await browser.request(page.url, {
      form: { csrf: formField(other.html, 'csrf')!, username: 'tester', password: 'tester-password-1' },
    });
    expect(foreign.status).toBe(403);
  });

  it('a disabled user cannot log in, and their refresh token stops working', async () => {
    await new UserStore(shenma.server.db.db).add('bob', 'bob-password-1');
    const { callback } = await loginAs(shenma, 'bob', 'bob-password-1', newState());
    const code = new URL(callback!).searchParams.get('code')!;
    const tokens = await (
      await tokenRequest(shenma.url, {
        client_id: 'vscode',
        client_secret: EXTENSION_CLIENT_SECRET,
        code,
        grant_type: 'authorization_code',
        redirect_uri: `${shenma.url}/login/ok`,
      })
    ).json();
    expect(tokens.refresh_token).toEqual(expect.any(String));
    await new UserStore(shenma.server.db.db).setDisabled('bob', true);
    const refreshed = await tokenRequest(shenma.url, {
      client_id: 'vscode',
      client_secret: EXTENSION_CLIENT_SECRET,
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
    });
    expect(refreshed.status).toBe(400);
    expect((await refreshed.json()).error).toBe('invalid_grant');
    const again = await loginAs(shenma, 'bob', 'bob-password-1', newState());
    expect(again.callback).toBeUndefined();
    expect(again.posted.status).toBe(401);
  });
});

describe('login refusals: wrong password, backoff, captcha', () => {
  let shenma: TestShenma;

  beforeAll(async () => {
    shenma = await startTestShenma({ models: MODELS });
    const users = new UserStore(shenma.server.db.db);
    await users.add('alice', 'alice-password-1');
  });
  afterAll(async () => {
    await shenma?.close();
  });

  it('a wrong password gives no code, the same message as an unknown user, then backoff and captcha', async () => {
    const browser = new Browser(shenma.url);
    const page = await openLoginPage(browser, shenma.url, newState());
    const wrong = await submitLogin(browser, page, { username: 'alice', password: 'wrong-password' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('location')).toBeNull();
    const wrongHtml = await wrong.text();
    expect(wrongHtml).toContain('Invalid user name or password.');

    const unknown = await openLoginPage(new Browser(shenma.url), shenma.url, newState());
    const noSuchUser = await submitLogin(new Browser(shenma.url), unknown, {
      username: 'nobody',
      password: 'whatever-1',
    });
    // (That browser had no CSRF cookie: refused before any password check.)
    expect(noSuchUser.status).toBe(403);

    // Second failure for alice: from now on a delay, and a captcha.
    const second = await submitLogin(
      browser,
      { url: page.url, html: wrongHtml },
      {
        username: 'alice',
        password: 'wrong-again',
      },
    );
    expect(second.status).toBe(401);
    const secondHtml = await second.text();
    const third = await submitLogin(
      browser,
      { url: page.url, html: secondHtml },
      {
        username: 'alice',
        password: 'alice-password-1',
      },
    );
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(third.headers.get('location')).toBeNull();

    await new Promise((r) => setTimeout(r, 1100));
    // The captcha is keyed by user name and address: the plain page (no name yet) has none, so
    // others behind the same address are not bothered by alice's typos...
    const plain = await (await browser.request(page.url)).text();
    expect(plain).not.toContain('name="captcha"');
    // ...and alice's next attempt is answered with one.
    const withCaptcha = await submitLogin(
      browser,
      { url: page.url, html: plain },
      { username: 'alice', password: 'alice-password-1' },
    );
    expect(withCaptcha.status).toBe(401);
    const captchaHtml = await withCaptcha.text();
    expect(captchaHtml).toContain('Please enter the captcha.');
    expect(captchaHtml).toMatch(/<img src="data:image\/svg\+xml;base64,/);
    expect(captchaHtml).toContain('name="captcha"');
    expect(captchaHtml).toContain('name="new_captcha"');
    expect(formField(captchaHtml, 'captcha_id')).toBeTruthy();
    // The right password with a wrong captcha is still refused.
    const badCaptcha = await submitLogin(
      browser,
      { url: page.url, html: captchaHtml },
      {
        username: 'alice',
        password: 'alice-password-1',
        captcha_id: formField(captchaHtml, 'captcha_id')!,
        captcha: 'nope',
      },
    );
    expect(badCaptcha.status).toBe(401);
    expect(badCaptcha.headers.get('location')).toBeNull();
    // No captcha at all is refused too.
    const noCaptcha = await submitLogin(
      browser,
      { url: page.url, html: captchaHtml },
      {
        username: 'alice',
        password: 'alice-password-1',
      },
    );
    expect(noCaptcha.status).toBe(401);

    // What an operator sees of it: login results counted by kind.
    const metrics = await (await shenma.get('/metrics')).text();
    expect(metrics).toMatch(/^shenma_logins_total\{result="failure"\} 2$/m);
    expect(metrics).toMatch(/^shenma_logins_total\{result="backoff"\} 1$/m);
    expect(metrics).toMatch(/^shenma_logins_total\{result="captcha"\} 3$/m);
    expect(metrics).toMatch(/^shenma_logins_total\{result="success"\} 0$/m);
  });
});

describe('signing keys and stored logins across a restart', () => {
  let dataDir: string;
  let scratch: ScratchDatabase | undefined;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'shenma-keys-'));
    if (await postgresReachable()) scratch = await createScratchDatabase('keys');
  });
  afterAll(async () => {
    await scratch?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(port: number) {
    const config = parseConfig(
      { models: MODELS, ...(scratch ? { database: { url: scratch.url } } : {}) },
      'test config',
    );
    return startEmbedded({ config, dataDir, port, logLevel: process.env.SHENMA_TEST_LOG ?? 'silent' });
  }

  it('keeps keys (0600), tokens and refresh tokens valid after a restart; keys rotate adds a key', async () => {
    const first = await start(0);
    const port = Number(new URL(first.url).port);
    let refreshToken: string;
    let accessToken: string;
    try {
      await new UserStore(first.db.db).add('carol', 'carol-password-1');
      const { callback } = await loginAs(first, 'carol', 'carol-password-1', newState());
      const code = new URL(callback!).searchParams.get('code')!;
      const tokens = await (
        await tokenRequest(first.url, {
          client_id: 'vscode',
          client_secret: EXTENSION_CLIENT_SECRET,
          code,
          grant_type: 'authorization_code',
          redirect_uri: `${first.url}/login/ok`,
        })
      ).json();
      refreshToken = tokens.refresh_token;
      accessToken = tokens.access_token;
    } finally {
      await first.close();
    }
    const keysFile = path.join(dataDir, KEYS_FILE);
    expect(statSync(keysFile).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dataDir, 'oidc-secrets.json')).mode & 0o777).toBe(0o600);

    // Same port, so the issuer (and the token's iss) is the same.
    const second = await start(port);
    try {
      const jwks = createRemoteJWKSet(new URL(`${second.url}${OIDC}/certs`));
      await jwtVerify(accessToken, jwks, { issuer: `${second.url}/realms/gw` });
      const refreshed = await tokenRequest(second.url, {
        client_id: 'vscode',
        client_secret: EXTENSION_CLIENT_SECRET,
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
      });
      expect(refreshed.status).toBe(200);
    } finally {
      await second.close();
    }

    const out: string[] = [];
    const io = {
      out: (t: string) => out.push(t),
      err: (t: string) => out.push(t),
      env: {},
      stdin: async () => '',
    };
    expect(await keysCommand(['rotate', '--data-dir', dataDir], io)).toBe(0);
    const kid = /[0-9a-f-]{36}/.exec(out.join('\n'))?.[0];
    expect(kid).toBeDefined();
    expect(out.join('\n')).toMatch(/restart/);

    const third = await start(port);
    try {
      const certs = (await (await fetch(`${third.url}${OIDC}/certs`)).json()) as { keys: { kid: string }[] };
      const kids = certs.keys.map((k: { kid: string }) => k.kid);
      expect(kids).toContain(kid);
      expect(kids.length).toBe(2);
      // Tokens signed before the rotation still verify; new ones are signed with the new key.
      const jwks = createRemoteJWKSet(new URL(`${third.url}${OIDC}/certs`));
      await jwtVerify(accessToken, jwks, { issuer: `${third.url}/realms/gw` });
      const refreshed = await (
        await tokenRequest(third.url, {
          client_id: 'vscode',
          client_secret: EXTENSION_CLIENT_SECRET,
          grant_type: 'refresh_token',
          refresh_token: refreshToken,
        })
      ).json();
      const header = JSON.parse(Buffer.from(refreshed.access_token.split('.')[0], 'base64url').toString());
      expect(header.kid).toBe(kid);
    } finally {
      await third.close();
    }
  });
});
