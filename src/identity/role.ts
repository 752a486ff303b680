import type { RoleFactory } from '../gateway/role.js';
// layer exception: the login page checks answers to the captchas the kaptcha role draws, so both
// share one captcha service (to become a store both roles are given).
import { captchaServiceFor } from '../kaptcha/service.js';
import { createAuthenticator } from './authenticate.js';
import { loadSigningKeys } from './keys.js';
import { createEmbeddedOidc } from './oidc/provider.js';
import { pluginLoginHandler } from './plugin-login.js';
import { TokenStore, UserStore } from './users.js';

/**
 * The identity role: the embedded OpenID provider under Keycloak's paths with its login page,
 * the polling login handoff, and the credential check every `auth: 'user'` route runs (embedded
 * or external issuer JWTs, personal API tokens, a trusted gateway header when configured).
 */
export const identityRole: RoleFactory<'identity'> = async (ctx) => {
  const users = new UserStore(ctx.db.db);
  // The embedded database has one writer, this process, so verified tokens may be cached.
  const tokens = new TokenStore(ctx.db.db, { cacheVerified: ctx.db.kind === 'pglite' });
  const keys = await loadSigningKeys(ctx.dataDir);
  const oidc = await createEmbeddedOidc(ctx, { users, captcha: captchaServiceFor(ctx), keys });
  const realmPath = `/realms/${ctx.config.identity.realm}`;
  const authenticate = createAuthenticator({
    identity: ctx.config.identity,
    embeddedIssuer: oidc.issuer,
    embeddedJwks: keys.publicJwks,
    tokens,
    users,
    log: ctx.log,
  });
  return {
    handlers: {
      ...oidc.handlers,
      'identity.pluginLogin': pluginLoginHandler({
        client: oidc.pluginLoginClient,
        internalIssuer: `${ctx.internalUrl}${realmPath}`,
        publicIssuer: oidc.issuer,
        authenticate,
      }),
    },
    authenticate,
    close: () => oidc.close(),
  };
};
