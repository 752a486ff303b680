import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Provider from 'oidc-provider';
import type { RoleContext } from '../../gateway/role.js';
import { errorBody } from '../../http/errors.js';
import type { RouteHandler } from '../../http/route-handler.js';
// layer exception: the login form checks a captcha answer the kaptcha role issued (one service).
import type { CaptchaService } from '../../kaptcha/service.js';
import type { SigningKeys } from '../keys.js';
import type { LoginBackoff } from '../login/backoff.js';
import { createLoginHandler, type LoginHandlerDeps } from '../login/handler.js';
import type { UserStore } from '../users.js';
import { type PluginLoginClient, pluginLoginClient, usesPublicSecret } from './clients.js';
import { KEYCLOAK_ROUTES, providerConfiguration } from './configuration.js';
import { logoutByRefreshToken, logoutFormQuery, wantsRefreshTokenLogout } from './logout.js';
import { BodyTooLargeError, pathBelow, readBody, replayRequest, withPublicOrigin } from './raw-request.js';
import { loadOidcSecrets } from './secrets.js';

/**
 * The embedded OpenID provider: oidc-provider mounted under /realms/<realm>, answering at the
 * paths, and with the behaviour, the extension expects from the Keycloak realm `gw`.
 */

export interface EmbeddedOidc {
  issuer: string;
  provider: Provider;
  handlers: { 'identity.oidc': RouteHandler; 'identity.login': RouteHandler };
  /** The internal client the polling login (later IDEs) runs the code flow with. */
  pluginLoginClient: PluginLoginClient;
  close(): Promise<void>;
}

export interface EmbeddedOidcDeps {
  users: UserStore;
  captcha: CaptchaService;
  backoff: LoginBackoff;
  remoteLogin?: LoginHandlerDeps['remoteLogin'];
  keys: SigningKeys;
}

export async function createEmbeddedOidc(ctx: RoleContext, deps: EmbeddedOidcDeps): Promise<EmbeddedOidc> {
  const { identity } = ctx.config;
  const publicUrl = ctx.publicUrl.replace(/\/+$/, '');
  const publicOrigin = new URL(publicUrl);
  const realmPrefix = `/realms/${identity.realm}`;
  const mountPath = `${publicOrigin.pathname.replace(/\/+$/, '')}${realmPrefix}`;
  const issuer = `${publicUrl}${realmPrefix}`;
  const secrets = await loadOidcSecrets(ctx.dataDir);
  const plugin = pluginLoginClient(publicUrl, secrets.pluginLoginClientSecret);

  if (usesPublicSecret(identity)) {
    ctx.log.warn(
      { clientId: identity.clientId },
      'identity.clientSecret is the secret built into the public extension: anyone can use this client. ' +
        'Keep it only while the Zhuge Shenma extension 1.2.x must log in.',
    );
  }

  const provider = new Provider(
    issuer,
    providerConfiguration({
      identity,
      publicUrl,
      db: ctx.db.db,
      users: deps.users,
      privateJwks: deps.keys.privateJwks,
      cookieKeys: secrets.cookieKeys,
      pluginClient: plugin,
    }),
  );
  // Koa then reads the origin from the X-Forwarded-* headers we set from publicUrl (below).
  provider.proxy = true;
  provider.on('server_error', (_koa: unknown, err: Error) => ctx.log.error({ err }, 'OpenID provider error'));
  // Keycloak adds session_state to the redirect; the trampoline passes it on to the IDE. The
  // listener runs before oidc-provider builds the redirect from this same object.
  provider.on('authorization.success', (koa, response) => {
    const clientId = koa.oidc.client?.clientId;
    const sid = clientId ? koa.oidc.session?.sidFor(clientId) : undefined;
    if (response && sid && !('session_state' in response)) response.session_state = sid;
  });
  const refused = (event: string) => (_koa: unknown, err: Error) =>
    ctx.log.debug({ err, event }, 'OpenID request refused');
  provider.on('grant.error', refused('grant.error'));
  provider.on('authorization.error', refused('authorization.error'));
  provider.on('end_session.error', refused('end_session.error'));
  provider.on('revocation.error', refused('revocation.error'));
  const callback = provider.callback() as (req: IncomingMessage, res: ServerResponse) => Promise<void>;

  const oidcHandler: RouteHandler = async (req: FastifyRequest, reply: FastifyReply) => {
    const { realm } = req.params as { realm: string };
    const rest = realm === identity.realm ? pathBelow(req.raw.url ?? '/', realmPrefix) : undefined;
    if (rest === undefined) return reply.code(404).send(errorBody('not_found_error', `no realm "${realm}"`));
    reply.hijack();
    const raw = req.raw;
    const res = reply.raw;
    res.setHeader('x-request-id', req.id);
    const headers = withPublicOrigin(raw.headers, publicOrigin, req.ip);
    const restPath = rest.split('?', 1)[0];

    if (raw.method === 'POST' && restPath === KEYCLOAK_ROUTES.end_session) {
      // The logout body must be read to tell the extension's form (refresh_token) from the
      // browser's (id_token_hint); the provider then gets a replay of it.
      let body: Buffer;
      try {
        body = await readBody(raw);
      } catch (err) {
        if (!(err instanceof BodyTooLargeError)) throw err;
        res.writeHead(413, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'invalid_request', error_description: err.message }));
        return;
      }
      const form = wantsRefreshTokenLogout(headers, body);
      if (form) {
        await logoutByRefreshToken({ provider, callback, raw, res, headers, form, mountPath });
        return;
      }
      // RP-initiated logout by POST (the spec lets the client choose): the same parameters as
      // the GET, so the same confirmation page. oidc-provider serves POST here only with
      // enableHttpPostMethods, which also wants SameSite=None cookies; hence the replay as a GET.
      const browserForm = logoutFormQuery(headers, body);
      if (browserForm === undefined) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: 'invalid_request',
            error_description:
              'logout by POST takes an application/x-www-form-urlencoded form: refresh_token (and client_id, client_secret), or id_token_hint and post_logout_redirect_uri',
          }),
        );
        return;
      }
      const url = browserForm ? `${restPath}?${browserForm}` : restPath;
      await callback(
        replayRequest(raw, {
          url,
          originalUrl: `${mountPath}${url}`,
          headers,
          body: Buffer.alloc(0),
          method: 'GET',
        }),
        res,
      );
      return;
    }
    raw.headers = headers;
    raw.url = rest;
    // oidc-provider derives its mount path from originalUrl minus url (as under Express).
    Object.assign(raw, { originalUrl: `${mountPath}${rest}` });
    await callback(raw, res);
  };

  const loginHandler = createLoginHandler({
    provider,
    users: deps.users,
    captcha: deps.captcha,
    backoff: deps.backoff,
    ...(deps.remoteLogin ? { remoteLogin: deps.remoteLogin } : {}),
    identity,
    publicUrl,
    csrfSecret: secrets.cookieKeys[0]!,
    log: ctx.log,
  });

  return {
    issuer,
    provider,
    handlers: { 'identity.oidc': oidcHandler, 'identity.login': loginHandler },
    pluginLoginClient: plugin,
    close: async () => {
      provider.removeAllListeners();
    },
  };
}
