import type { JWK } from 'jose';
import type { Kysely } from 'kysely';
import { type Account, type Configuration, errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { IdentityConfig } from '../../config/schema.js';
import type { Tables } from '../../storage/tables.js';
import type { UserStore } from '../users.js';
import { kyselyAdapterFactory } from './adapter.js';
import { DEFAULT_SCOPE, oidcClients, type PluginLoginClient } from './clients.js';
import { logoutSource, postLogoutSuccessSource, renderProviderError } from './provider-pages.js';

/**
 * oidc-provider settings that make it answer like the Keycloak realm the extension was built
 * against: Keycloak's endpoint paths, JWT access tokens carrying `preferred_username`, refresh
 * tokens that can be used again and again, and no consent screen for our own clients.
 */

/** Keycloak's endpoint paths below /realms/<realm>. */
export const KEYCLOAK_ROUTES = {
  authorization: '/protocol/openid-connect/auth',
  token: '/protocol/openid-connect/token',
  end_session: '/protocol/openid-connect/logout',
  jwks: '/protocol/openid-connect/certs',
  userinfo: '/protocol/openid-connect/userinfo',
  revocation: '/protocol/openid-connect/revoke',
  introspection: '/protocol/openid-connect/token/introspect',
} as const;

/**
 * The resource indicator every access token is issued for: the Shenma API. Clients never send
 * one; it exists so oidc-provider issues JWT access tokens (it only does for a resource server).
 */
export const API_RESOURCE = 'urn:shenma:api';

/** How long the browser stays signed in to the login page; IDE tokens do not depend on it. */
const BROWSER_SESSION_SECONDS = 12 * 3600;
const INTERACTION_SECONDS = 3600;
const AUTHORIZATION_CODE_SECONDS = 60;
const ID_TOKEN_SECONDS = 3600;

export interface ProviderSettings {
  identity: IdentityConfig;
  publicUrl: string;
  db: Kysely<Tables>;
  users: UserStore;
  privateJwks: JWK[];
  cookieKeys: string[];
  pluginClient: PluginLoginClient;
}

async function findAccount(users: UserStore, id: string): Promise<Account | undefined> {
  const user = await users.findById(id);
  // A disabled user's codes and refresh tokens stop working: oidc-provider answers invalid_grant.
  if (!user || user.disabled) return undefined;
  return {
    accountId: user.id,
    claims: () => ({
      sub: user.id,
      preferred_username: user.name,
      name: user.name,
      ...(user.email ? { email: user.email } : {}),
    }),
  };
}

/** Our clients are granted openid/profile/email without a consent screen (Keycloak does the same). */
async function loadOrAutoGrant(ctx: KoaContextWithOIDC) {
  const { client, session, provider } = ctx.oidc;
  const accountId = session?.accountId;
  if (!client || !accountId) return undefined;
  const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
  const existing = grantId ? await provider.Grant.find(grantId) : undefined;
  const grant =
    existing && existing.accountId === accountId
      ? existing
      : new provider.Grant({ clientId: client.clientId, accountId });
  grant.addOIDCScope(DEFAULT_SCOPE);
  grant.addResourceScope(API_RESOURCE, DEFAULT_SCOPE);
  // Saving again also pushes the grant's expiry out, so it outlives the refresh token issued now.
  await grant.save();
  return grant;
}

export function providerConfiguration(s: ProviderSettings): Configuration {
  const { identity, publicUrl, users } = s;
  const secureCookies = publicUrl.startsWith('https:');
  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, signed: true, secure: secureCookies };
  return {
    adapter: kyselyAdapterFactory(s.db),
    clients: oidcClients(identity, publicUrl, s.pluginClient),
    jwks: { keys: s.privateJwks as NonNullable<Configuration['jwks']>['keys'] },
    cookies: {
      keys: s.cookieKeys,
      names: { session: 'shenma_session', interaction: 'shenma_interaction', resume: 'shenma_resume' },
      long: cookieOptions,
      short: cookieOptions,
    },
    routes: KEYCLOAK_ROUTES,
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name'],
      email: ['email'],
    },
    // Keycloak puts profile claims in the ID token too; the extension reads preferred_username.
    conformIdTokenClaims: false,
    findAccount: (_ctx, id) => findAccount(users, id),
    loadExistingGrant: loadOrAutoGrant,
    interactions: {
      url: (_ctx, interaction) => `${publicUrl}/realms/${identity.realm}/login/${interaction.uid}`,
    },
    pkce: { required: () => false },
    // The extension refreshes from several timers with one stored token: it must stay valid.
    rotateRefreshToken: false,
    // Refresh tokens without offline_access, bound to the grant rather than the browser session.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    extraTokenClaims: async (_ctx, token) => {
      if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
      const user = await users.findById(token.accountId);
      if (!user) return undefined;
      return {
        azp: token.clientId,
        preferred_username: user.name,
        name: user.name,
        ...(user.email ? { email: user.email } : {}),
      };
    },
    ttl: {
      AccessToken: identity.accessTokenTtlSeconds,
      AuthorizationCode: AUTHORIZATION_CODE_SECONDS,
      IdToken: ID_TOKEN_SECONDS,
      RefreshToken: identity.refreshTokenTtlSeconds,
      Grant: identity.refreshTokenTtlSeconds,
      Session: BROWSER_SESSION_SECONDS,
      Interaction: INTERACTION_SECONDS,
    },
    features: {
      devInteractions: { enabled: false },
      // A client may revoke, and learn about, only the tokens issued to it.
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== API_RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: DEFAULT_SCOPE,
            // Verifiers accept aud (or azp) = the IDE client id, as with the Keycloak realm.
            audience: identity.clientId,
            accessTokenTTL: identity.accessTokenTtlSeconds,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    renderError: renderProviderError,
    // Browsers may call the provider's CORS endpoints only from our own clients' origins.
    clientBasedCORS: (_ctx, origin, client) =>
      client.redirectUris?.some((uri) => URL.parse(uri)?.origin === origin) ?? false,
  };
}
