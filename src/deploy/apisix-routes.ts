import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ShenmaConfig } from '../config/schema.js';
import { ROUTES, type RouteSpec } from '../gateway/routes.js';
import type { ApisixKind } from './apisix-schema.js';
import {
  GATEWAY_CLIENT_ID,
  internalRealmUrl,
  KEYCLOAK_PORT,
  publicBase,
  SHENMA_PORT,
  type ShenmaService,
} from './topology.js';

/**
 * The gateway's desired state, derived from the route table: one APISIX upstream per service
 * and one route per route-table entry (two for user routes, see below). Every object carries
 * the Shenma-owned label, so reconcile prunes only what it made.
 */

export const OWNER_LABEL = { managed_by: 'shenma' } as const;

export interface ApisixObject {
  kind: ApisixKind;
  id: string;
  body: Record<string, unknown>;
}

/** Same headers the embedded gateway allows (gateway/embedded.ts). */
const CORS = {
  allow_origins: '*',
  allow_methods: 'GET,POST,OPTIONS',
  allow_headers: 'api-key,authorization,content-type,ide,ide-version,ide-real-version,host-ip,x-request-id',
  max_age: 600,
};

/** Which deployed service answers a route-table role (undefined: not routed through the gateway). */
function serviceFor(route: RouteSpec, config: ShenmaConfig): ShenmaService | 'keycloak' | undefined {
  switch (route.role) {
    case 'completion':
    case 'chat':
      return route.role;
    case 'trampoline':
    case 'kaptcha':
      return 'login';
    case 'identity':
      if (config.deploy.identity === 'shenma') return 'identity';
      // Keycloak answers the OpenID paths itself; its own login pages replace ours, and the
      // polling login handoff is a feature of Shenma's provider.
      return route.id === 'identity.oidc' ? 'keycloak' : undefined;
    case 'ops':
      // Metrics and readiness stay inside the network (Prometheus scrapes each replica);
      // liveness through the gateway is what `up`'s smoke test checks first.
      return route.id === 'ops.healthz' ? 'completion' : undefined;
  }
}

/** Fastify paths to APISIX uris: the realm is fixed, other parameters become a wildcard. */
function apisixUri(p: string, realm: string): string {
  return p
    .replaceAll(':realm', realm)
    .replace(/:[A-Za-z_]+$/, '*')
    .replace(/:[A-Za-z_]+/g, '*');
}

const routeId = (entryId: string, suffix = '') => `shenma-${entryId.replaceAll('.', '-')}${suffix}`;
const upstreamId = (svc: string) => `shenma-${svc}`;

export interface DesiredOptions {
  /** OIDC client secret of the gateway client (from the secrets file). */
  gatewayClientSecret: string;
  /** Directory the TLS paths in deploy.tls are relative to (the config file's). */
  configDir: string;
}

export function desiredGateway(config: ShenmaConfig, opts: DesiredOptions): ApisixObject[] {
  const realm = config.identity.realm;
  const upstreams = new Map<string, ApisixObject>();
  const routes: ApisixObject[] = [];
  const upstream = (svc: ShenmaService | 'keycloak') => {
    const id = upstreamId(svc);
    if (!upstreams.has(id)) {
      const port = svc === 'keycloak' ? KEYCLOAK_PORT : SHENMA_PORT;
      upstreams.set(id, {
        kind: 'upstreams',
        id,
        body: {
          name: `Shenma ${svc}`,
          type: 'roundrobin',
          scheme: 'http',
          pass_host: 'pass',
          nodes: { [`${svc}:${port}`]: 1 },
          // Chat answers stream for minutes; completions are bounded by Shenma's own deadlines.
          timeout: { connect: 5, send: 60, read: svc === 'chat' ? 900 : 120 },
          labels: { ...OWNER_LABEL },
        },
      });
    }
    return id;
  };
  const limit = {
    count: config.deploy.rateLimit.count,
    time_window: config.deploy.rateLimit.windowSeconds,
    key_type: 'var_combination',
    // Per credential: each bearer token or API key belongs to one user.
    key: '$http_authorization $http_api_key',
    rejected_code: 429,
    policy: 'local',
    show_limit_quota_header: true,
  };
  const oidc = {
    client_id: GATEWAY_CLIENT_ID,
    client_secret: opts.gatewayClientSecret,
    discovery: `${internalRealmUrl(config)}/.well-known/openid-configuration`,
    bearer_only: true,
    // Verify the JWT signature with the provider's JWKS locally instead of one introspection
    // call per request (APISIX >= 3.1; the 3.0 schema dump predates the key and allows it).
    use_jwks: true,
    realm,
    set_userinfo_header: false,
    set_access_token_header: false,
    token_signing_alg_values_expected: 'RS256',
  };

  const table: readonly RouteSpec[] = ROUTES;
  for (const entry of table) {
    const svc = serviceFor(entry, config);
    if (!svc) continue;
    const methods = [...new Set([...entry.methods, ...(entry.cors ? (['OPTIONS'] as const) : [])])];
    const base: Record<string, unknown> = {
      name: entry.id,
      desc: entry.summary.slice(0, 256),
      uris: entry.paths.map((p) => apisixUri(p, realm)),
      methods,
      upstream_id: upstream(svc),
      labels: { ...OWNER_LABEL },
      // More specific routes first: the captcha path lives under Keycloak's /realms/<realm>/*.
      priority: entry.paths.some((p) => p.endsWith('*')) ? 0 : 10,
      ...(entry.websocket ? { enable_websocket: true } : {}),
    };
    const plugins: Record<string, unknown> = { prometheus: { prefer_name: true } };
    if (entry.cors) plugins.cors = { ...CORS };
    if (entry.auth === 'user') {
      plugins['limit-count'] = { ...limit };
      // Bearer JWTs are verified at the gateway; API tokens and the api-key header (opaque, only
      // Shenma can check them) take the second route, and Shenma checks every credential anyway.
      routes.push({
        kind: 'routes',
        id: routeId(entry.id, '-jwt'),
        body: {
          ...base,
          name: `${entry.id} (JWT)`,
          priority: (base.priority as number) + 5,
          vars: [['http_authorization', '~~', '^Bearer eyJ']],
          plugins: { ...plugins, 'openid-connect': { ...oidc } },
        },
      });
    }
    routes.push({ kind: 'routes', id: routeId(entry.id), body: { ...base, plugins } });
  }
  if (config.deploy.identity === 'keycloak') {
    // Keycloak's login pages load their styles and scripts from /resources/.
    routes.push({
      kind: 'routes',
      id: 'shenma-keycloak-resources',
      body: {
        name: 'keycloak.resources',
        desc: "Keycloak's login page assets",
        uris: ['/resources/*'],
        methods: ['GET'],
        upstream_id: upstream('keycloak'),
        labels: { ...OWNER_LABEL },
        plugins: { prometheus: { prefer_name: true } },
      },
    });
  }
  const ssl: ApisixObject[] = [];
  if (config.deploy.tls) {
    const read = (f: string) => readFileSync(path.resolve(opts.configDir, f), 'utf8');
    ssl.push({
      kind: 'ssls',
      id: 'shenma-entry',
      body: {
        snis: [new URL(publicBase(config)).hostname],
        cert: read(config.deploy.tls.cert),
        key: read(config.deploy.tls.key),
        labels: { ...OWNER_LABEL },
      },
    });
  }
  return [...upstreams.values(), ...routes, ...ssl];
}

/** Fields holding secrets, masked when the desired state is printed. */
export function redact(obj: ApisixObject): ApisixObject {
  const body = structuredClone(obj.body) as Record<string, unknown>;
  const plugins = body.plugins as Record<string, Record<string, unknown>> | undefined;
  if (plugins?.['openid-connect']) plugins['openid-connect'].client_secret = '<OIDC_GATEWAY_CLIENT_SECRET>';
  if (obj.kind === 'ssls') body.key = '<private key>';
  return { ...obj, body };
}
