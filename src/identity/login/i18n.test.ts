import { describe, expect, it } from 'vitest';
import { MESSAGES as TRAMPOLINE } from '../../trampoline/messages.js';
import { messagesFor } from './i18n.js';

/** Issue #12 item 15: one wording on every page, "Sign in" / "Signed in" (登录 / 已登录). */

function texts(messages: object): Record<string, string> {
  return Object.fromEntries(
    Object.entries(messages).map(([key, v]) => [
      key,
      // Message functions take names (a list) or machine, version and user.
      typeof v === 'function'
        ? String((v as (...a: unknown[]) => string)(key.endsWith('Params') ? ['code'] : 'm', '1.0', 'u'))
        : String(v),
    ]),
  );
}

describe('page wording', () => {
  it('English pages say "sign in", never "log in" or "login" (except naming the IDE\'s Login button)', () => {
    const all = { ...texts(messagesFor('en')), ...texts(TRAMPOLINE.en) };
    for (const [key, text] of Object.entries(all)) {
      const withoutButton = text.replace(/press(ed)? Login in your( own)? IDE/, '');
      expect(withoutButton, key).not.toMatch(/\blog ?in\b|\blogged\b/i);
    }
    expect(all.signedInTitle).toBe('Signed in');
    expect(all.successTitle).toBe('Signed in');
    expect(all.heading).toMatch(/^Sign in/);
  });

  it('Chinese pages use 登录 / 已登录', () => {
    const zh = { ...texts(messagesFor('zh')), ...texts(TRAMPOLINE.zh) };
    expect(zh.signedInTitle).toBe('已登录');
    expect(zh.successTitle).toBe('已登录');
    expect(zh.submit).toBe('登录');
    expect(Object.values(zh).join('')).not.toMatch(/登陆|签入/);
  });
});
