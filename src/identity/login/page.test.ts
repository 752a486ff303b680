import { describe, expect, it } from 'vitest';
import { escapeHtml } from '../../http/html.js';
import { pickLanguage } from '../../http/language.js';
import { messagesFor } from './i18n.js';
import { confirmPageHtml, loginPageHtml, pageSecurityHeaders } from './page.js';

describe('login page language', () => {
  it.each([
    ['zh-CN,zh;q=0.9,en;q=0.8', 'zh'],
    ['en-US,en;q=0.9,zh-CN;q=0.8', 'en'],
    ['en;q=0.5,zh-TW;q=0.6', 'zh'],
    ['en,zh', 'zh'],
    ['fr-FR,de', 'en'],
    [undefined, 'en'],
    ['zh;q=0', 'en'],
  ] as const)('%s → %s', (header, lang) => {
    expect(pickLanguage(header)).toBe(lang);
  });
});

describe('login page HTML', () => {
  const m = messagesFor('en');

  it('names its inputs as Keycloak does and escapes what it echoes', () => {
    const html = loginPageHtml(m, 'n0nce', {
      username: '"><script>alert(1)</script>',
      csrf: 'tok&en',
      error: '<b>bad</b>',
    });
    expect(html).toContain('name="username"');
    expect(html).toContain('name="password"');
    expect(html).toContain('name="csrf" value="tok&amp;en"');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;b&gt;bad&lt;/b&gt;');
    expect(html).toContain('<style nonce="n0nce">');
    expect(html).not.toContain('name="captcha"');
  });

  it('shows a captcha image only for a data: URL of an image', () => {
    const good = loginPageHtml(m, 'n', {
      username: '',
      csrf: 't',
      captcha: { id: 'c1', image: 'data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=' },
    });
    expect(good).toContain('<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="');
    expect(good).toContain('name="captcha_id" value="c1"');
    expect(good).toContain('name="captcha"');
    const bad = loginPageHtml(m, 'n', {
      username: '',
      csrf: 't',
      captcha: { id: 'c1', image: 'javascript:alert(1)' },
    });
    expect(bad).not.toContain('<img');
  });

  it('forbids framing, caching and everything but its own style and data: images', () => {
    const h = pageSecurityHeaders('abc');
    expect(h['content-security-policy']).toBe(
      "default-src 'none'; style-src 'nonce-abc'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    expect(h['x-frame-options']).toBe('DENY');
    expect(h['cache-control']).toBe('no-store');
    expect(escapeHtml(`<&"'>`)).toBe('&lt;&amp;&quot;&#39;&gt;');
  });
});

describe('polling-login confirmation page', () => {
  it('names machine, plugin version and user as text, with Refuse before Continue and no script', () => {
    const html = confirmPageHtml(messagesFor('en'), 'nonce', {
      machineCode: '<img src=x onerror=alert(1)>',
      pluginVersion: '2.0.0"',
      user: 'tester',
      action: 'https://shenma.example/oidc-auth/api/v1/plugin/login/confirm',
      confirmId: 'c'.repeat(32),
      csrf: 'token',
    });
    expect(html).toContain('machine &lt;img src=x onerror=alert(1)&gt;, plugin version 2.0.0&quot;');
    expect(html).toContain('asks to sign in as tester.');
    expect(html).not.toMatch(/<script|<img/);
    expect(html.indexOf('value="refuse"')).toBeLessThan(html.indexOf('value="allow"'));
    expect(messagesFor('zh').remoteLoginConfirm('m', '1', 'u')).toContain('请求以 u 的身份登录');
  });
});
