import { describe, expect, it } from 'vitest';
import { wantsRefreshTokenLogout } from './logout.js';
import { pathBelow, withPublicOrigin } from './raw-request.js';

describe('requests handed to the provider', () => {
  it('strips the realm prefix, merging doubled slashes and keeping the query', () => {
    expect(pathBelow('/realms/gw/protocol/openid-connect/auth?a=1//2', '/realms/gw')).toBe(
      '/protocol/openid-connect/auth?a=1//2',
    );
    expect(pathBelow('//realms/gw//.well-known/openid-configuration', '/realms/gw')).toBe(
      '/.well-known/openid-configuration',
    );
    expect(pathBelow('/realms/gw', '/realms/gw')).toBe('/');
    expect(pathBelow('/realms/gwx/certs', '/realms/gw')).toBeUndefined();
  });

  it('replaces forwarded headers with the public origin', () => {
    const h = withPublicOrigin(
      { host: 'internal:9080', 'x-forwarded-host': 'evil.example', forwarded: 'host=evil' },
      new URL('https://code.example.com/shenma'),
      '10.1.2.3',
    );
    expect(h).toMatchObject({
      host: 'internal:9080',
      'x-forwarded-host': 'code.example.com',
      'x-forwarded-proto': 'https',
      'x-forwarded-for': '10.1.2.3',
    });
    expect(h.forwarded).toBeUndefined();
  });

  it('tells the extension logout form from the browser one', () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
    const ext = Buffer.from('refresh_token=rt&client_id=vscode&client_secret=s');
    expect(wantsRefreshTokenLogout(form, ext)?.get('client_id')).toBe('vscode');
    expect(wantsRefreshTokenLogout(form, Buffer.from('id_token_hint=x&refresh_token=rt'))).toBeUndefined();
    expect(wantsRefreshTokenLogout(form, Buffer.from('post_logout_redirect_uri=x'))).toBeUndefined();
    expect(wantsRefreshTokenLogout({ 'content-type': 'application/json' }, ext)).toBeUndefined();
  });
});
