import { describe, expect, it } from 'vitest';
import { CSRF_COOKIE, csrfCookieHeader, LoginCsrf, readCookie } from './csrf.js';

describe('login CSRF token', () => {
  const csrf = new LoginCsrf('a-cookie-signing-key-of-enough-length');

  it('accepts the token made for this uid and cookie only', () => {
    const cookie = csrf.newCookieValue();
    const token = csrf.tokenFor('uid-1', cookie);
    expect(csrf.check('uid-1', cookie, token)).toBe(true);
    expect(csrf.check('uid-2', cookie, token)).toBe(false);
    expect(csrf.check('uid-1', csrf.newCookieValue(), token)).toBe(false);
    expect(csrf.check('uid-1', undefined, token)).toBe(false);
    expect(csrf.check('uid-1', cookie, undefined)).toBe(false);
    expect(csrf.check('uid-1', cookie, ['x'])).toBe(false);
    expect(csrf.check('uid-1', cookie, `${token}x`)).toBe(false);
  });

  it('depends on the server secret', () => {
    const cookie = csrf.newCookieValue();
    const other = new LoginCsrf('another-secret-another-secret-xx');
    expect(other.check('u', cookie, csrf.tokenFor('u', cookie))).toBe(false);
  });

  it('sets a strict, http-only cookie scoped to the login page and reads it back', () => {
    const header = csrfCookieHeader('v1', '/realms/gw/login/abc', true);
    expect(header).toBe(
      `${CSRF_COOKIE}=v1; Path=/realms/gw/login/abc; Max-Age=3600; HttpOnly; SameSite=Strict; Secure`,
    );
    expect(csrfCookieHeader('', '/p', false, true)).toContain('Max-Age=0');
    expect(readCookie(`a=1; ${CSRF_COOKIE}=v1; b=2`, CSRF_COOKIE)).toBe('v1');
    expect(readCookie('a=1', CSRF_COOKIE)).toBeUndefined();
    expect(readCookie(undefined, CSRF_COOKIE)).toBeUndefined();
  });
});
