import type { ClientMetadata } from 'oidc-provider';
import { EXTENSION_CLIENT_SECRET, type IdentityConfig } from '../../config/schema.js';

/**
 * The clients the embedded provider knows. Both are ours, so their consent is implied: the IDE
 * client (`vscode` by default, with the secret built into the extension) and the internal client
 * the polling login of later IDEs uses to run the same code flow on the IDE's behalf.
 */

export const PLUGIN_LOGIN_CLIENT_ID = 'shenma-plugin-login';
export const PLUGIN_LOGIN_CALLBACK_PATH = '/oidc-auth/api/v1/plugin/login/callback';
/** The IDE's redirect: the trampoline page that hands code and state to vscode://. */
export const TRAMPOLINE_PATH = '/login/ok';
/** What our clients are granted without asking. */
export const DEFAULT_SCOPE = 'openid profile email';

export interface PluginLoginClient {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

export function pluginLoginClient(publicUrl: string, secret: string): PluginLoginClient {
  return {
    clientId: PLUGIN_LOGIN_CLIENT_ID,
    clientSecret: secret,
    redirectUri: `${publicUrl}${PLUGIN_LOGIN_CALLBACK_PATH}`,
  };
}

function confidentialClient(clientId: string, secret: string, redirectUris: string[]): ClientMetadata {
  return {
    client_id: clientId,
    client_secret: secret,
    // oidc-provider accepts the secret in the body or in Basic auth for either method.
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: redirectUris,
    scope: `${DEFAULT_SCOPE} offline_access`,
    post_logout_redirect_uris: redirectUris,
  };
}

export function oidcClients(
  identity: IdentityConfig,
  publicUrl: string,
  plugin: PluginLoginClient,
): ClientMetadata[] {
  return [
    confidentialClient(identity.clientId, identity.clientSecret, [
      `${publicUrl}${TRAMPOLINE_PATH}`,
      `${publicUrl}${PLUGIN_LOGIN_CALLBACK_PATH}`,
    ]),
    confidentialClient(plugin.clientId, plugin.clientSecret, [plugin.redirectUri]),
  ];
}

/** The built-in secret ships inside the public extension: anyone can act as this client. */
export function usesPublicSecret(identity: IdentityConfig): boolean {
  return identity.clientSecret === EXTENSION_CLIENT_SECRET;
}
