import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import { KEYCLOAK_ROUTES } from './configuration.js';
import { replayRequest } from './raw-request.js';

/**
 * Logout as the extension does it (docs/protocol.md §3.3): POST .../logout with a form body
 * `refresh_token`, `client_id`, `client_secret` and no id_token_hint, as Keycloak accepts it.
 * oidc-provider's end_session does not know that form, so it is answered by its revocation
 * endpoint instead: that authenticates the client (401 invalid_client on a wrong secret) and,
 * for a refresh token, revokes the whole grant. As Keycloak does, the browser session the login
 * came from is ended too, so the next login asks for the password again.
 */

/** The form of a refresh-token logout, or undefined for any other logout request. */
export function wantsRefreshTokenLogout(
  headers: IncomingHttpHeaders,
  body: Buffer,
): URLSearchParams | undefined {
  const type = headers['content-type']?.split(';', 1)[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return undefined;
  const form = new URLSearchParams(body.toString('utf8'));
  return form.get('refresh_token') && !form.has('id_token_hint') ? form : undefined;
}

/**
 * A browser's logout form (id_token_hint, post_logout_redirect_uri, state, ...) as a query string
 * for the GET the provider serves; undefined when the body is not a form.
 */
export function logoutFormQuery(headers: IncomingHttpHeaders, body: Buffer): string | undefined {
  const type = headers['content-type']?.split(';', 1)[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return undefined;
  return new URLSearchParams(body.toString('utf8')).toString();
}

export interface RefreshTokenLogout {
  provider: Provider;
  callback: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  raw: IncomingMessage;
  res: ServerResponse;
  headers: IncomingHttpHeaders;
  form: URLSearchParams;
  mountPath: string;
}

export async function logoutByRefreshToken(l: RefreshTokenLogout): Promise<void> {
  const value = l.form.get('refresh_token')!;
  const before = await l.provider.RefreshToken.find(value, { ignoreExpiration: true });
  const revoke = new URLSearchParams({ token: value, token_type_hint: 'refresh_token' });
  for (const name of ['client_id', 'client_secret']) {
    const v = l.form.get(name);
    if (v !== null) revoke.set(name, v);
  }
  const query = l.raw.url?.includes('?') ? l.raw.url.slice(l.raw.url.indexOf('?')) : '';
  const url = `${KEYCLOAK_ROUTES.revocation}${query}`;
  // The answer is held back until the browser session is gone: a client that hears "logged out"
  // and opens the login page at once must be asked for the password (it was not, when the
  // session was destroyed after answering).
  const held = holdResponseEnd(l.res);
  try {
    await l.callback(
      replayRequest(l.raw, {
        url,
        originalUrl: `${l.mountPath}${url}`,
        headers: l.headers,
        body: Buffer.from(revoke.toString()),
      }),
      l.res,
    );
    // Gone now but there before: this authenticated client revoked it. End its browser session.
    if (!before?.sessionUid || (await l.provider.RefreshToken.find(value, { ignoreExpiration: true })))
      return;
    const session = await l.provider.Session.findByUid(before.sessionUid);
    await session?.destroy();
  } finally {
    held.release();
  }
}

/** Defers `res.end` (the provider's answer) until `release`, which sends it as it was given. */
function holdResponseEnd(res: ServerResponse): { release(): void } {
  const end = res.end;
  let args: unknown[] | undefined;
  res.end = function (this: ServerResponse, ...given: unknown[]) {
    args = given;
    return this;
  } as ServerResponse['end'];
  return {
    release: () => {
      res.end = end;
      if (args) (end as (...a: unknown[]) => ServerResponse).apply(res, args);
    },
  };
}
