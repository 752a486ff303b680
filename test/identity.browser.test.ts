import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setCaptchaAnswerObserver } from '../src/kaptcha/service.js';
import { describeWithChromium, launchChromium, recordSchemeNavigations } from './support/browser.js';
import { startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * The login as the Zhuge Shenma extension drives it, in a real browser: the extension opens the
 * authorization URL, the user signs in on our login page (with a captcha), the provider redirects
 * to the trampoline `/login/ok`, and that page hands the code to VS Code through exactly one
 * vscode:// navigation.
 *
 * The captcha is solved by learning each answer as it is issued: the kaptcha module's test-only
 * `setCaptchaAnswerObserver` hook. The server runs in this process, so the hook sees the answers
 * of the login page's own captchas without any back door in the HTTP surface.
 *
 * Screenshots go to a temp dir (printed) for a person to look at; they are not kept in the repo.
 */

const SCREENSHOT_DIR = mkdtempSync(path.join(tmpdir(), 'shenma-browser-'));
const VSCODE_CALLBACK = 'vscode://zgsm-ai.zgsm/callback';

let shenma: TestShenma;
let browser: Browser;
let context: BrowserContext | undefined;
/** captcha id → answer, filled by the observer as the server issues captchas. */
const captchaAnswers = new Map<string, string>();

async function newPage(locale: 'en' | 'zh-CN', viewport = { width: 900, height: 760 }): Promise<Page> {
  context = await browser.newContext({
    locale,
    extraHTTPHeaders: { 'accept-language': locale === 'en' ? 'en' : 'zh-CN,zh;q=0.9' },
    viewport,
  });
  const page = await context.newPage();
  // Well inside the test timeout, so a missing element fails with its selector, not a timeout.
  page.setDefaultTimeout(8000);
  return page;
}

function shot(page: Page, name: string) {
  return page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/** The URL the extension opens (docs/protocol.md §3.1 step 1), built the way it builds it. */
function authUrl(state: string): string {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: 'vscode',
    redirect_uri: `${shenma.url}/login/ok`,
    state,
    scope: 'openid profile email',
  });
  return `${shenma.url}/realms/gw/protocol/openid-connect/auth?${query.toString()}`;
}

const randomState = () =>
  Array.from({ length: 12 }, () => Math.floor(Math.random() * 16).toString(16)).join('');

/**
 * Fills and posts the login form; `captcha` is the answer to type, or 'right' for the one the
 * page shows. Resolves with the POST's status once the browser shows the document that answered
 * it (a marker set on the old document tells the two apart), except on success, where the
 * answer is a redirect to the trampoline and the caller waits for that.
 */
async function submitLogin(page: Page, username: string, password: string, captcha: 'right' | string) {
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(password);
  const id = await page.locator('input[name="captcha_id"]').inputValue();
  const answer = captcha === 'right' ? captchaAnswers.get(id) : captcha;
  expect(answer, `an answer was observed for captcha ${id}`).toBeDefined();
  await page.locator('input[name="captcha"]').fill(answer!);
  await page.evaluate(() => {
    (globalThis as Record<string, unknown>).__beforeSubmit = true;
  });
  const posted = page.waitForResponse((r) => r.request().method() === 'POST');
  await page.locator('button[type="submit"], input[type="submit"]').first().click();
  const status = (await posted).status();
  if (status < 300 || status >= 400) {
    await page.waitForFunction(() => !('__beforeSubmit' in globalThis));
  }
  return status;
}

/** The login page's error message (role="alert"). */
const alertText = async (page: Page) => (await page.getByRole('alert').first().textContent()) ?? '';

const CJK = /[\u4e00-\u9fff]/;

describeWithChromium('identity in a real browser', () => {
  beforeAll(async () => {
    setCaptchaAnswerObserver((id, answer) => captchaAnswers.set(id, answer));
    browser = await launchChromium();
    shenma = await startTestShenma({
      // Never called here; the config needs a model.
      models: [{ name: 'coder', kind: 'openai', url: 'http://127.0.0.1:9/v1', family: 'deepseek-coder' }],
      identity: { captcha: 'always' },
    });
    console.info(`[browser tests] screenshots in ${SCREENSHOT_DIR}`);
  });

  afterAll(async () => {
    setCaptchaAnswerObserver(undefined);
    await browser?.close();
    await shenma?.close();
  });

  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  describe('trampoline page', () => {
    it('opens the vscode:// callback exactly once, not again on reload', async () => {
      const page = await newPage('en');
      const opened = recordSchemeNavigations(page, 'vscode');
      const first = opened.next();
      // 'commit': the page's own navigation to vscode:// supersedes its load event.
      await page.goto(`${shenma.url}/login/ok?state=0123456789ab&session_state=s%201&code=the%2Fcode`, {
        waitUntil: 'commit',
      });
      expect((await first).url()).toBe(
        `${VSCODE_CALLBACK}?session_state=s+1&state=0123456789ab&code=the%2Fcode`,
      );
      await expect.poll(() => page.title()).toBe('Signed in');
      await page.reload({ waitUntil: 'load' });
      await page.waitForTimeout(500);
      expect(opened.urls).toHaveLength(1);
      await expect(
        page.getByRole('link', { name: 'Open Visual Studio Code' }).getAttribute('href'),
      ).resolves.toBe(opened.urls[0]);
      const logo = await page
        .locator('img.logo')
        .evaluate((img: { naturalWidth: number }) => img.naturalWidth);
      expect(logo).toBeGreaterThan(0);
      await shot(page, 'trampoline-en');
    });

    it('renders in Chinese and runs no script injected through the query', async () => {
      const page = await newPage('zh-CN');
      const dialogs: string[] = [];
      page.on('dialog', async (d) => {
        dialogs.push(d.message());
        await d.dismiss();
      });
      const opened = recordSchemeNavigations(page, 'vscode');
      const first = opened.next();
      const evil = '<script>alert(1)</script><img src=x onerror=alert(2)>';
      await page.goto(`${shenma.url}/login/ok?state=${encodeURIComponent(evil)}&code=abc`, {
        waitUntil: 'commit',
      });
      await first;
      // While the aborted vscode: navigation settles, Chromium titles the tab "Loading vscode:…".
      await expect.poll(() => page.title()).toBe('已登录');
      await expect(page.locator('body').textContent()).resolves.toContain('您可以关闭此页面');
      expect(dialogs).toEqual([]);
      // The value reaches VS Code intact, as data.
      expect(new URL(opened.urls[0]!).searchParams.get('state')).toBe(evil);
      await shot(page, 'trampoline-zh');
    });
  });

  describe('login, as the extension starts it', () => {
    it('shows the login page in English or Chinese by Accept-Language, with a captcha image', async () => {
      const texts: Record<string, string> = {};
      for (const locale of ['en', 'zh-CN'] as const) {
        const page = await newPage(locale);
        await page.goto(authUrl(randomState()));
        await page.locator('input[name="username"]').waitFor();
        await page.locator('input[name="password"]').waitFor();
        const captchaImage = page.locator('img[src^="data:image/"]').first();
        const width = await captchaImage.evaluate(
          (el: { complete: boolean; naturalWidth: number }) => el.complete && el.naturalWidth,
        );
        expect(width).toBeGreaterThan(0);
        texts[locale] = (await page.locator('main').textContent()) ?? '';
        await shot(page, `login-${locale}`);
        await context?.close();
        context = undefined;
      }
      expect(texts.en).not.toMatch(CJK);
      expect(texts['zh-CN']).toMatch(CJK);
      expect(texts.en).not.toBe(texts['zh-CN']);
    }, 40_000);

    it('refuses a wrong captcha, then a wrong password, then signs in and opens VS Code once', async () => {
      const page = await newPage('en');
      const opened = recordSchemeNavigations(page, 'vscode');
      const state = randomState();
      await page.goto(authUrl(state));
      const loginUrl = page.url();

      expect(await submitLogin(page, 'tester', 'tester-password-1', '####')).toBe(401);
      expect(page.url()).toBe(loginUrl);
      const captchaError = await alertText(page);
      expect(captchaError).not.toBe('');
      await shot(page, 'login-wrong-captcha');

      expect(await submitLogin(page, 'tester', 'not-the-password', 'right')).toBe(401);
      expect(page.url()).toBe(loginUrl);
      const passwordError = await alertText(page);
      expect(passwordError).not.toBe('');
      expect(passwordError).not.toBe(captchaError);
      await shot(page, 'login-wrong-password');
      expect(opened.urls).toEqual([]);

      const first = opened.next();
      expect([302, 303]).toContain(await submitLogin(page, 'tester', 'tester-password-1', 'right'));
      const callback = new URL((await first).url());
      expect(`${callback.protocol}//${callback.host}${callback.pathname}`).toBe(VSCODE_CALLBACK);
      expect(callback.searchParams.get('state')).toBe(state);
      expect(callback.searchParams.get('code')).toBeTruthy();
      expect(new URL(page.url()).pathname).toBe('/login/ok');
      await expect.poll(() => page.title()).toBe('Signed in');
      await shot(page, 'login-trampoline');

      await page.reload({ waitUntil: 'load' });
      await page.waitForTimeout(500);
      expect(opened.urls).toHaveLength(1);
    }, 40_000);
  });

  describe('on a phone-sized screen (390 px)', () => {
    it('keeps a margin around the login card and names a CJK font for Chinese', async () => {
      for (const locale of ['en', 'zh-CN'] as const) {
        const page = await newPage(locale, { width: 390, height: 844 });
        await page.goto(authUrl(randomState()));
        const card = await page.locator('main').boundingBox();
        expect(card).not.toBeNull();
        // At least 8 px of page on either side of the card, and no horizontal scrolling.
        expect(card!.x).toBeGreaterThanOrEqual(8);
        expect(390 - (card!.x + card!.width)).toBeGreaterThanOrEqual(8);
        expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
        const fonts = await page.evaluate<string>('getComputedStyle(document.body).fontFamily');
        expect(fonts).toContain('Noto Sans CJK SC');
        expect(fonts).toContain('Microsoft YaHei');
        const heading = (await page.locator('h1').textContent()) ?? '';
        expect(heading).toContain(locale === 'en' ? 'Sign in' : '登录');
        await shot(page, `login-390-${locale}`);
        await context?.close();
        context = undefined;
      }
    }, 40_000);

    it('"new captcha image" shows another image and keeps the typed user name', async () => {
      const page = await newPage('en', { width: 390, height: 844 });
      await page.goto(authUrl(randomState()));
      const loginUrl = page.url();
      const firstId = await page.locator('input[name="captcha_id"]').inputValue();
      const firstImage = await page.locator('.captcha img').getAttribute('src');
      await page.locator('input[name="username"]').fill('tester');
      const posted = page.waitForResponse((r) => r.request().method() === 'POST');
      await page.locator('button[name="new_captcha"]').click();
      expect((await posted).status()).toBe(200);
      await expect.poll(() => page.locator('input[name="captcha_id"]').inputValue()).not.toBe(firstId);
      expect(await page.locator('.captcha img').getAttribute('src')).not.toBe(firstImage);
      expect(await page.locator('input[name="username"]').inputValue()).toBe('tester');
      expect(await page.getByRole('alert').count()).toBe(0);
      expect(page.url()).toBe(loginUrl);
    }, 40_000);
  });
});
