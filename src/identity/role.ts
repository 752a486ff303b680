import type { RoleFactory } from '../gateway/role.js';
// layer exception: the login page checks answers to the captchas the kaptcha role draws; both
// build the captcha service over the shared short-lived store the server gives them.
import { createCaptchaService } from '../kaptcha/service.js';
import { createAuthenticator } from './authenticate.js';
import { loadSigningKeys } from './keys.js';
import { LoginBackoff } from './login/backoff.js';
import { PLUGIN_LOGIN_CLIENT_ID } from './oidc/clients.js';
import { createEmbeddedOidc } from './oidc/provider.js';
import { pluginLoginHandler, remoteLoginNotice } from './plugin-login.js';
import { PluginLoginStates } from './plugin-login-states.js';
import { TokenUseRecorder } from './token-use.js';
import { TokenStore, UserStore } from './users.js';

/**
 * The identity role: the embedded OpenID provider under Keycloak's paths with its login page,
 * the polling login handoff, and the credential check every `auth: 'user'` route runs (embedded
 * or external issuer JWTs, personal API tokens, a trusted gateway header when configured).
 */
export const identityRole: RoleFactory<'identity'> = async (ctx) => {
  const events = ctx.credentialChanges;
  const users = new UserStore(ctx.db.db, { events });
  // Verified tokens and users' states may be remembered when this process hears of every
  // change: it is the embedded database's one writer, or changes are broadcast through Redis.
  const hearsEveryChange = ctx.db.kind === 'embedded' || ctx.config.redis.url !== undefined;
  const tokens = new TokenStore(ctx.db.db, { cacheVerified: hearsEveryChange, events });
  const stopListening = events.subscribe(() => tokens.forgetVerified());
  const keys = await loadSigningKeys(ctx.dataDir);
  const pluginLogins = new PluginLoginStates(ctx.ephemeral);
  const oidc = await createEmbeddedOidc(ctx, {
    users,
    captcha: createCaptchaService(ctx.ephemeral),
    backoff: new LoginBackoff(ctx.ephemeral),
    remoteLogin: remoteLoginNotice(pluginLogins, PLUGIN_LOGIN_CLIENT_ID),
    keys,
  });
  const realmPath = `/realms/${ctx.config.identity.realm}`;
  const tokenUse = new TokenUseRecorder(ctx.db.db, {
    onError: (err) => ctx.log.warn({ err }, 'could not record when API tokens were last used'),
  });
  const authenticate = createAuthenticator({
    identity: ctx.config.identity,
    embeddedIssuer: oidc.issuer,
    embeddedJwks: keys.publicJwks,
    tokens,
    users,
    log: ctx.log,
    onTokenUsed: (id) => tokenUse.record(id),
    changes: events,
    cacheUserState: hearsEveryChange,
  });
  const pluginLogin = pluginLoginHandler({
    client: oidc.pluginLoginClient,
    internalIssuer: `${ctx.internalUrl}${realmPath}`,
    publicIssuer: oidc.issuer,
    publicUrl: ctx.publicUrl.replace(/\/+$/, ''),
    authenticate,
    states: pluginLogins,
    log: ctx.log,
  });
  return {
    handlers: {
      ...oidc.handlers,
      'identity.pluginLogin': pluginLogin,
      'identity.pluginLoginConfirm': pluginLogin,
    },
    authenticate,
    close: async () => {
      stopListening();
      await tokenUse.close();
      await oidc.close();
    },
  };
};
