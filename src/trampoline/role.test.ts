import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestShenma, type TestShenma } from '../../test/support/shenma.js';
import { escapeHtml } from '../http/html.js';
import { callbackUrl } from './role.js';

/** The trampoline through the embedded server: the page, its headers, and its images. */

let shenma: TestShenma;

beforeAll(async () => {
  shenma = await startTestShenma({
    // Never called here; the config needs a model.
    models: [{ name: 'coder', kind: 'openai', url: 'http://127.0.0.1:9/v1', family: 'deepseek-coder' }],
  });
});
afterAll(() => shenma?.close());

const okPage = (query: string, lang = 'en') =>
  fetch(`${shenma.url}/login/ok?${query}`, { headers: { 'accept-language': lang } });

/** A path exactly as written: fetch() would normalise `..` away before sending. */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(shenma.url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /login/ok', () => {
  it('serves the success page with the vscode:// link, in English or Chinese', async () => {
    const res = await okPage('state=0123456789ab&session_state=s-1&code=c.o+d/e');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    expect(html).toContain('<title>Signed in</title>');
    expect(html).toContain('Open Visual Studio Code');
    expect(html).toContain('You may close this page');
    const link = 'vscode://zgsm-ai.zgsm/callback?session_state=s-1&amp;state=0123456789ab&amp;code=c.o+d%2Fe';
    expect(html).toContain(`href="${link}"`);

    const zh = await (await okPage('state=0123456789ab&code=abc', 'zh-CN,zh;q=0.9')).text();
    expect(zh).toContain('<title>已登录</title>');
    expect(zh).toContain('<html lang="zh-CN">');
    expect(zh).toContain('关闭此页面');
  });

  it('builds the callback with each value URL-encoded, in the original order', () => {
    expect(callbackUrl({ sessionState: 'a b', state: 'x&y=z', code: '#1' })).toBe(
      'vscode://zgsm-ai.zgsm/callback?session_state=a+b&state=x%26y%3Dz&code=%231',
    );
    expect(callbackUrl({ state: 's', code: 'c' })).toBe('vscode://zgsm-ai.zgsm/callback?state=s&code=c');
  });

  it('sends strict headers: CSP with a fresh script nonce, no-store, no-referrer', async () => {
    const first = await okPage('state=s&code=c');
    const second = await okPage('state=s&code=c');
    const csp = first.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(second.headers.get('content-security-policy')).not.toBe(csp);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.headers.get('referrer-policy')).toBe('no-referrer');
    expect(first.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await first.text();
    const scripts = html.match(/<script[^>]*>/g) ?? [];
    expect(scripts).toEqual([`<script nonce="${nonce}">`]);
  });

  it('escapes query values (no markup or script from the URL)', async () => {
    const evil = `<script>alert(1)</script>"'><img src=x onerror=alert(2)>`;
    const res = await okPage(
      `state=${encodeURIComponent(evil)}&code=${encodeURIComponent(evil)}&session_state=${encodeURIComponent(evil)}`,
    );
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('onerror=alert(2)>');
    expect(html.match(/<script/g)).toHaveLength(1);
    // The code sits in an attribute, HTML-escaped, where the constant script reads it back.
    expect(html).toContain(`data-code="${escapeHtml(evil)}"`);
  });

  it.each([
    ['code=abc', 'state'],
    ['state=abc', 'code'],
    ['state=&code=', 'code, state'],
    ['', 'code, state'],
  ])('answers 400 naming what is missing (%s)', async (query, missing) => {
    const res = await okPage(query);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toContain(`missing: ${missing}.`);
    expect(html).not.toContain('vscode://');
    expect(html).not.toContain('<script');
  });

  it('says so in Chinese too', async () => {
    const html = await (await okPage('state=abc', 'zh')).text();
    expect(html).toContain('登录回调缺少参数：code');
  });

  it('shows a provider error (escaped) instead of opening VS Code', async () => {
    const res = await okPage('error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E&state=abc');
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('access_denied: &lt;b&gt;no&lt;/b&gt;');
    expect(html).not.toContain('vscode://');
  });

  it('refuses a repeated or overlong parameter, saying so rather than that it is missing', async () => {
    for (const query of ['state=a&state=b&code=c', `state=a&code=${'c'.repeat(3000)}`]) {
      const res = await okPage(query);
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(html).toContain('repeated or overlong: ');
      expect(html).not.toContain('missing');
      expect(html).not.toContain('vscode://');
    }
    const both = await (await okPage('code=a&code=b')).text();
    expect(both).toContain('missing: state.');
    expect(both).toContain('repeated or overlong: code.');
  });
});

describe('GET /login/resources/*', () => {
  it('serves the logo and hint images with their content type and cache headers', async () => {
    for (const name of ['logo.svg', 'hint.svg']) {
      const res = await fetch(`${shenma.url}/login/resources/${name}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/svg+xml');
      expect(res.headers.get('cache-control')).toBe('public, max-age=86400');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await res.text()).toMatch(/^<svg /);
    }
  });

  it('answers 304 for a matching ETag', async () => {
    const first = await fetch(`${shenma.url}/login/resources/logo.svg`);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^".+"$/);
    const again = await fetch(`${shenma.url}/login/resources/logo.svg`, {
      headers: { 'if-none-match': etag },
    });
    expect(again.status).toBe(304);
  });

  it.each([
    '/login/resources/nope.svg',
    '/login/resources/../ok',
    '/login/resources/../../package.json',
    '/login/resources/%2e%2e/%2e%2e/package.json',
    '/login/resources/..%2f..%2fpackage.json',
    '/login/resources/%2e%2e%5c%2e%2e%5cpackage.json',
    '/login/resources/',
    '/login/resources/.hidden.svg',
    '/login/resources/sub/logo.svg',
  ])('refuses %s with 404', async (path) => {
    const res = await rawGet(path);
    expect(res.status).toBe(404);
    expect(res.body).not.toContain('"name"');
  });
});
