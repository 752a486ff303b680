import { describe, expect, it } from 'vitest';
import { configSchema, EXTENSION_CLIENT_SECRET } from '../config/schema.js';
import { BRUTE_FORCE, keycloakIssuer, renderKeycloakRealm } from './keycloak-realm.js';

/**
 * Checked against the Keycloak admin client's RealmRepresentation type, Keycloak itself cannot
 * run here: `renderKeycloakRealm` is declared to return that type (imported type-only from
 * @keycloak/keycloak-admin-client), so the file compiling under `tsc` is the schema check; these
 * tests check the values.
 */

const config = configSchema.parse({
  identity: { realm: 'gw', accessTokenTtlSeconds: 3600, refreshTokenTtlSeconds: 7 * 86_400 },
});
const PUBLIC_URL = 'https://code.example.com/';

describe('Keycloak realm, checked against the Keycloak admin client RealmRepresentation type (Keycloak itself cannot run here)', () => {
  const realm = renderKeycloakRealm(config, PUBLIC_URL);
  const client = realm.clients?.[0];

  it('is the configured realm, enabled, with the public URL as frontend URL', () => {
    expect(realm.realm).toBe('gw');
    expect(realm.enabled).toBe(true);
    expect(realm.attributes).toEqual({ frontendUrl: 'https://code.example.com' });
    expect(realm.sslRequired).toBe('external');
    expect(renderKeycloakRealm(config, 'http://10.0.0.1:9080').sslRequired).toBe('none');
    expect(keycloakIssuer(config, PUBLIC_URL)).toBe('https://code.example.com/realms/gw');
  });

  it('takes token lifespans from the identity config', () => {
    expect(realm.accessTokenLifespan).toBe(3600);
    expect(realm.ssoSessionIdleTimeout).toBe(7 * 86_400);
    expect(realm.ssoSessionMaxLifespan).toBe(7 * 86_400);
    expect(realm.offlineSessionIdleTimeout).toBe(7 * 86_400);
  });

  it('lets the extension reuse refresh tokens', () => {
    expect(realm.revokeRefreshToken).toBe(false);
  });

  it('turns brute-force protection on, without permanent lockout', () => {
    expect(realm).toMatchObject({ bruteForceProtected: true, permanentLockout: false, ...BRUTE_FORCE });
    expect(realm.failureFactor).toBeGreaterThan(1);
    expect(realm.maxFailureWaitSeconds).toBeGreaterThanOrEqual(realm.waitIncrementSeconds!);
  });

  it('renders no users (passwords never go into files)', () => {
    expect(realm.users).toBeUndefined();
    expect(realm.federatedUsers).toBeUndefined();
    expect(JSON.stringify(realm)).not.toMatch(/"(users|credentials|federatedUsers)"/);
  });

  it('has one confidential IDE client with redirect URIs under the public URL and no password grant', () => {
    expect(realm.clients).toHaveLength(1);
    expect(client).toMatchObject({
      clientId: 'vscode',
      enabled: true,
      publicClient: false,
      secret: EXTENSION_CLIENT_SECRET,
      standardFlowEnabled: true,
      directAccessGrantsEnabled: false,
      implicitFlowEnabled: false,
      redirectUris: [
        'https://code.example.com/login/ok',
        'https://code.example.com/oidc-auth/api/v1/plugin/login/callback',
      ],
      webOrigins: ['https://code.example.com'],
    });
    expect(client?.attributes?.['pkce.code.challenge.method']).toBe('');
    expect(client?.defaultClientScopes).toEqual(expect.arrayContaining(['profile', 'email']));
  });

  it('maps the user name into the access token as preferred_username', () => {
    const mapper = client?.protocolMappers?.find((m) => m.config?.['claim.name'] === 'preferred_username');
    expect(mapper).toMatchObject({
      protocol: 'openid-connect',
      protocolMapper: 'oidc-usermodel-attribute-mapper',
      config: { 'user.attribute': 'username', 'access.token.claim': 'true' },
    });
  });

  it('follows a changed client id and secret', () => {
    const custom = configSchema.parse({ identity: { clientId: 'ide', clientSecret: 'a-long-secret' } });
    const rendered = renderKeycloakRealm(custom, 'http://127.0.0.1:9080');
    expect(rendered.clients?.[0]).toMatchObject({ clientId: 'ide', secret: 'a-long-secret' });
    expect(rendered.accessTokenLifespan).toBe(86_400);
  });
});
