import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * CSRF protection for the login form: a random value in a SameSite=Strict cookie scoped to the
 * login page, and in the form an HMAC of it bound to the interaction uid. A POST must bring
 * both, matching; a form lifted from another login, or posted from another site, fails.
 */

export const CSRF_COOKIE = 'shenma_login_csrf';
export const CSRF_FIELD = 'csrf';
const COOKIE_SECONDS = 3600;

export class LoginCsrf {
  private readonly key: Buffer;

  constructor(secret: string) {
    // A key of its own, derived so the cookie-signing key is never used for two purposes.
    this.key = createHmac('sha256', secret).update('shenma login csrf v1').digest();
  }

  newCookieValue(): string {
    return randomBytes(24).toString('base64url');
  }

  tokenFor(uid: string, cookieValue: string): string {
    return createHmac('sha256', this.key).update(`${uid}\n${cookieValue}`).digest('base64url');
  }

  check(uid: string, cookieValue: string | undefined, token: unknown): boolean {
    if (!cookieValue || typeof token !== 'string' || token.length === 0) return false;
    const expected = Buffer.from(this.tokenFor(uid, cookieValue));
    const given = Buffer.from(token);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}

export function csrfCookieHeader(value: string, path: string, secure: boolean, clear = false): string {
  return [
    `${CSRF_COOKIE}=${clear ? '' : value}`,
    `Path=${path}`,
    `Max-Age=${clear ? 0 : COOKIE_SECONDS}`,
    'HttpOnly',
    'SameSite=Strict',
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

/** One cookie's value from a Cookie header (no cookie plugin is registered on the server). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}
