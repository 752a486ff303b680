import type ClientRepresentation from '@keycloak/keycloak-admin-client/lib/defs/clientRepresentation.js';
import type RealmRepresentation from '@keycloak/keycloak-admin-client/lib/defs/realmRepresentation.js';
import type { ShenmaConfig } from '../../config/schema.js';
import { renderKeycloakRealm } from '../keycloak-realm.js';
import { GATEWAY_CLIENT_ID, publicBase } from '../topology.js';

/**
 * The realm Keycloak imports on first boot: the IDE client from `shenma render keycloak-realm`
 * plus the gateway's confidential client. Its secret is a Keycloak import placeholder filled from
 * the container environment, so the mounted file holds no generated secret.
 */
export function gatewayClient(secret: string): ClientRepresentation {
  return {
    clientId: GATEWAY_CLIENT_ID,
    name: 'Shenma gateway and API clients',
    enabled: true,
    protocol: 'openid-connect',
    publicClient: false,
    clientAuthenticatorType: 'client-secret',
    secret,
    // It only verifies tokens (APISIX openid-connect) and runs no login flow itself.
    standardFlowEnabled: false,
    implicitFlowEnabled: false,
    directAccessGrantsEnabled: false,
    serviceAccountsEnabled: false,
  };
}

export function renderDeployRealm(config: ShenmaConfig): RealmRepresentation {
  const realm = renderKeycloakRealm(config, publicBase(config));
  return { ...realm, clients: [...(realm.clients ?? []), gatewayClient('${OIDC_GATEWAY_CLIENT_SECRET}')] };
}
