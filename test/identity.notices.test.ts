import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { UserStore } from '../src/identity/users.js';
import { type EmbeddedServer, startEmbedded } from '../src/server/embedded.js';
import { Browser, formField } from './support/login-browser.js';
import { pollingLogin } from './support/polling-login.js';
import { createScratchDatabase, postgresReachable, type ScratchDatabase } from './support/postgres.js';

/**
 * What an operator sees in the output around logins and logouts: a failed login is logged
 * without the typed user name (it may be a password typed into the wrong field), and logouts do
 * not make oidc-provider print "default ... function called, you SHOULD change it" notices.
 */

let server: EmbeddedServer;
let dataDir: string;
let scratch: ScratchDatabase | undefined;
const lines: string[] = [];
const consoleOutput: string[] = [];

beforeAll(async () => {
  for (const method of ['info', 'warn', 'log', 'error'] as const) {
    const original = console[method].bind(console);
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      consoleOutput.push(args.map(String).join(' '));
      original(...args);
    });
  }
  dataDir = mkdtempSync(path.join(tmpdir(), 'shenma-notices-'));
  if (await postgresReachable()) scratch = await createScratchDatabase('notices');
  server = await startEmbedded({
    config: parseConfig(
      { identity: { captcha: 'off' }, ...(scratch ? { database: { url: scratch.url } } : {}) },
      'test config',
    ),
    dataDir,
    port: 0,
    logLevel: 'debug',
    logStream: { write: (line: string) => lines.push(line) },
  });
  await new UserStore(server.db.db).add('tester', 'tester-password-1');
}, 60_000);

afterAll(async () => {
  vi.restoreAllMocks();
  await server?.close();
  await scratch?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('login and logout output', () => {
  it('logs a failed login with a tag of the typed name, never the name itself', async () => {
    const browser = new Browser(server.url);
    const auth = new URL(`${server.url}/realms/gw/protocol/openid-connect/auth`);
    auth.search = new URLSearchParams({
      response_type: 'code',
      client_id: 'vscode',
      redirect_uri: `${server.url}/login/ok`,
      state: 'notices-state-1',
      scope: 'openid profile email',
    }).toString();
    const { res, url } = await browser.follow(await browser.request(auth.href), `${server.url}/login/ok`);
    const html = await res.text();
    const typed = 'Hunter2-My-Real-Password';
    const failed = await browser.request(url, {
      form: { csrf: formField(html, 'csrf') ?? '', username: typed, password: 'whatever-1' },
    });
    expect(failed.status).toBe(401);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const entry = logged.find((l) => l.msg === 'login failed');
    expect(entry).toBeDefined();
    expect(entry!.userTag).toMatch(/^[0-9a-f]{12}$/);
    expect(lines.join('\n')).not.toContain(typed);
    expect(lines.join('\n')).not.toContain(typed.toLowerCase());
  });

  it('a logout (refresh-token revoke, then the browser logout) prints no SHOULD-change notice', async () => {
    const browser = new Browser(server.url);
    const tokens = await pollingLogin(
      { start: server.url, confirm: server.url, poll: server.url },
      {
        state: 'notices-login-1',
        machineCode: 'pc',
        username: 'tester',
        password: 'tester-password-1',
        browser,
      },
    );
    // The later client's logout: revokes its refresh token.
    const logout = await fetch(
      `${server.url}/oidc-auth/api/v1/plugin/logout?refresh_token=${encodeURIComponent(tokens.refresh_token!)}`,
      { headers: { authorization: `Bearer ${tokens.access_token}` } },
    );
    expect(logout.status).toBe(200);
    // The browser's logout: our question page, then the signed-out page.
    const ask = await browser.request(
      `${server.url}/realms/gw/protocol/openid-connect/logout?${new URLSearchParams({ id_token_hint: tokens.id_token! })}`,
    );
    expect(ask.status).toBe(200);
    const page = await ask.text();
    expect(page).toContain('Sign out of Shenma?');
    const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1];
    const xsrf = formField(page, 'xsrf');
    expect(action && xsrf).toBeTruthy();
    const done = await browser.request(new URL(action!, server.url).href, {
      form: { xsrf: xsrf!, logout: 'yes' },
    });
    const { res } = await browser.follow(done, 'never:');
    expect(await res.text()).toContain('Signed out');

    const notices = [...consoleOutput, ...lines].filter((l) => /SHOULD change|MUST change/.test(l));
    expect(notices).toEqual([]);
  });
});
