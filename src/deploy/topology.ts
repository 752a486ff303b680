import type { ShenmaConfig } from '../config/schema.js';
import type { ServedRole } from '../server/embedded.js';

/**
 * The deployed shape's services: names (also their DNS names on the compose network), the
 * Shenma roles each Shenma service runs, and internal ports. Render, routes and up read it.
 */

/** Every Shenma service listens here inside its container. */
export const SHENMA_PORT = 9080;
export const APISIX_ADMIN_PORT = 9180;
export const APISIX_METRICS_PORT = 9091;
/** Where the Prometheus container keeps the token it scrapes Shenma with (its data volume). */
export const METRICS_TOKEN_FILE = '/prometheus/shenma-metrics-token';
export const KEYCLOAK_PORT = 8080;

export type ShenmaService = 'completion' | 'chat' | 'login' | 'identity';

export const SHENMA_SERVICE_ROLES: Record<ShenmaService, readonly ServedRole[]> = {
  completion: ['completion'],
  chat: ['chat'],
  // The trampoline page and the captcha images: small and stateless, one service.
  login: ['trampoline', 'kaptcha'],
  identity: ['identity'],
};

export function shenmaServices(config: ShenmaConfig): ShenmaService[] {
  const list: ShenmaService[] = ['completion', 'chat', 'login'];
  if (config.deploy.identity === 'shenma') list.push('identity');
  return list;
}

/** The public URL with no trailing slash (render refuses configs without one). */
export function publicBase(config: ShenmaConfig): string {
  return (config.publicUrl ?? '').replace(/\/+$/, '');
}

/** Where containers reach the identity provider's realm without leaving the network. */
export function internalRealmUrl(config: ShenmaConfig): string {
  const realm = config.identity.realm;
  return config.deploy.identity === 'keycloak'
    ? `http://keycloak:${KEYCLOAK_PORT}/realms/${realm}`
    : `http://identity:${SHENMA_PORT}/realms/${realm}`;
}

/** The issuer tokens carry: always the public URL (what the IDE talked to). */
export function publicIssuer(config: ShenmaConfig): string {
  return `${publicBase(config)}/realms/${config.identity.realm}`;
}

export const GATEWAY_CLIENT_ID = 'shenma-gateway';
