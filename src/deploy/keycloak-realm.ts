// Type-only: erased at compile time, so the admin client (a devDependency) is never loaded at run time.
import type ClientRepresentation from '@keycloak/keycloak-admin-client/lib/defs/clientRepresentation.js';
import type ProtocolMapperRepresentation from '@keycloak/keycloak-admin-client/lib/defs/protocolMapperRepresentation.js';
import type RealmRepresentation from '@keycloak/keycloak-admin-client/lib/defs/realmRepresentation.js';
import type { ShenmaConfig } from '../config/schema.js';

/**
 * The Keycloak realm for the deployed shape (Keycloak as the identity provider, reached by
 * browsers and the IDE at `${publicUrl}/realms/<realm>`), as a realm import file. It carries the
 * IDE client and its secret, never users: passwords do not go into files.
 */

/**
 * Brute-force protection: after `failureFactor` failures the account waits `waitIncrementSeconds`,
 * more with each further failure, up to `maxFailureWaitSeconds`; failures older than
 * `maxDeltaTimeSeconds` are forgotten. Never a permanent lockout (that is a denial of service).
 */
export const BRUTE_FORCE = {
  failureFactor: 10,
  waitIncrementSeconds: 60,
  maxFailureWaitSeconds: 15 * 60,
  maxDeltaTimeSeconds: 12 * 3600,
  /** Two failures closer than this count as a robot: wait at least minimumQuickLoginWaitSeconds. */
  quickLoginCheckMilliSeconds: 1000,
  minimumQuickLoginWaitSeconds: 60,
} as const satisfies RealmRepresentation;

export function renderKeycloakRealm(config: ShenmaConfig, publicUrl: string): RealmRepresentation {
  const { identity } = config;
  const base = publicUrl.replace(/\/+$/, '');
  const refresh = identity.refreshTokenTtlSeconds;
  return {
    realm: identity.realm,
    displayName: 'Shenma',
    enabled: true,
    // Keycloak refuses plain-http logins from non-private addresses under "external"; when the public
    // URL is http the deployment has chosen http, so requiring TLS would only lock users out.
    sslRequired: base.startsWith('https:') ? 'external' : 'none',
    // Every URL Keycloak emits (the token issuer included) is the public one the IDE uses.
    attributes: { frontendUrl: base },
    registrationAllowed: false,
    resetPasswordAllowed: false,
    loginWithEmailAllowed: true,
    duplicateEmailsAllowed: false,
    accessTokenLifespan: identity.accessTokenTtlSeconds,
    ssoSessionIdleTimeout: refresh,
    ssoSessionMaxLifespan: refresh,
    offlineSessionIdleTimeout: refresh,
    // The extension refreshes from several timers with the same refresh token: reuse must work.
    revokeRefreshToken: false,
    refreshTokenMaxReuse: 0,
    bruteForceProtected: true,
    permanentLockout: false,
    ...BRUTE_FORCE,
    clients: [ideClient(config, base)],
  };
}

function ideClient(config: ShenmaConfig, base: string): ClientRepresentation {
  const { identity } = config;
  return {
    clientId: identity.clientId,
    name: 'Zhuge Shenma IDE extension',
    enabled: true,
    protocol: 'openid-connect',
    // Confidential: the extension sends client_secret with the code exchange and refresh.
    publicClient: false,
    clientAuthenticatorType: 'client-secret',
    secret: identity.clientSecret,
    standardFlowEnabled: true,
    implicitFlowEnabled: false,
    // No password grant: passwords are typed into Keycloak's page only.
    directAccessGrantsEnabled: false,
    serviceAccountsEnabled: false,
    rootUrl: base,
    redirectUris: [`${base}/login/ok`, `${base}/oidc-auth/api/v1/plugin/login/callback`],
    webOrigins: [new URL(base).origin],
    attributes: {
      // Empty: PKCE optional. The 1.2.x extension sends no code_challenge; one that is sent is checked.
      'pkce.code.challenge.method': '',
      'use.refresh.tokens': 'true',
    },
    // "basic" carries the sub claim since Keycloak 25 (older versions skip the unknown name).
    defaultClientScopes: ['basic', 'profile', 'email', 'web-origins'],
    optionalClientScopes: ['offline_access'],
    protocolMappers: [preferredUsernameMapper(), audienceMapper(identity.clientId)],
  };
}

/** The extension reads the user name from the access token's preferred_username; never leave it to scopes. */
function preferredUsernameMapper(): ProtocolMapperRepresentation {
  return {
    name: 'preferred_username in access token',
    protocol: 'openid-connect',
    protocolMapper: 'oidc-usermodel-attribute-mapper',
    config: {
      'user.attribute': 'username',
      'claim.name': 'preferred_username',
      'jsonType.label': 'String',
      'access.token.claim': 'true',
      'id.token.claim': 'true',
      'userinfo.token.claim': 'true',
      'introspection.token.claim': 'true',
    },
  };
}

/** Puts the IDE client in `aud` (Keycloak otherwise says "account"); Shenma also accepts azp. */
function audienceMapper(clientId: string): ProtocolMapperRepresentation {
  return {
    name: `audience ${clientId}`,
    protocol: 'openid-connect',
    protocolMapper: 'oidc-audience-mapper',
    config: {
      'included.client.audience': clientId,
      'access.token.claim': 'true',
      'id.token.claim': 'false',
      'introspection.token.claim': 'true',
    },
  };
}

/** The issuer of tokens from the rendered realm; identity.issuer must be exactly this. */
export function keycloakIssuer(config: ShenmaConfig, publicUrl: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/realms/${config.identity.realm}`;
}
