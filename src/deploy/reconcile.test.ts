import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type AdminDouble,
  APISIX_SCHEMA_FIXTURE,
  startAdminDouble,
} from '../../test/support/apisix-admin-double.js';
import { cli } from '../../test/support/cli.js';
import { reconcileGateway } from '../cli/routes.js';
import { parseConfig } from '../config/load.js';
import { ROUTES, type RouteSpec } from '../gateway/routes.js';
import { httpTransport } from './admin-http.js';
import { type ApisixObject, desiredGateway } from './apisix-routes.js';
import { type ApisixSchemaDump, ApisixValidator } from './apisix-schema.js';
import { parseDotenv } from './secrets.js';

/**
 * Gateway reconcile against a stateful TEST DOUBLE of APISIX's Admin API (APISIX cannot run
 * here); the double validates every body with APISIX's published schema, as reconcile does.
 */

const validator = new ApisixValidator(
  JSON.parse(readFileSync(APISIX_SCHEMA_FIXTURE, 'utf8')) as ApisixSchemaDump,
);
const desiredFor = (deploy: Record<string, unknown>) =>
  desiredGateway(parseConfig({ publicUrl: 'https://shenma.example.com', deploy }), {
    gatewayClientSecret: 'gateway-secret-0123456789abcdef',
    configDir: '.',
  });

describe('desired gateway objects', () => {
  it('every route and upstream, and each plugin config, validates against the APISIX schema', () => {
    for (const identity of ['keycloak', 'shenma']) {
      const objects = desiredFor({ identity });
      expect(objects.length).toBeGreaterThan(20);
      for (const o of objects)
        expect({ id: o.id, problems: validator.validate(o.kind, o.body) }).toEqual({
          id: o.id,
          problems: [],
        });
    }
  });

  it('follows the route table: user routes verify JWTs with the provider JWKS and are limited; CORS, websocket, captcha priority', () => {
    const objects = desiredFor({ identity: 'keycloak' });
    // biome-ignore lint/suspicious/noExplicitAny: reading nested plugin configs; the assertions check them
    const route = (id: string) => objects.find((o) => o.id === id)!.body as Record<string, any>;
    // Every route-table entry the gateway serves has a route; user routes have a JWT twin.
    const table: readonly RouteSpec[] = ROUTES;
    for (const entry of table.filter((r) => r.role === 'completion' || r.role === 'chat')) {
      const id = `shenma-${entry.id.replaceAll('.', '-')}`;
      expect(route(id).uris).toEqual(entry.paths);
      if (entry.auth === 'user') {
        const jwt = route(`${id}-jwt`);
        expect(jwt.plugins['openid-connect']).toMatchObject({
          bearer_only: true,
          use_jwks: true,
          discovery: 'http://keycloak:8080/realms/gw/.well-known/openid-configuration',
        });
        expect(jwt.priority).toBeGreaterThan(route(id).priority);
        expect(jwt.plugins['limit-count'].key).toBe('$http_authorization $http_api_key');
        expect(route(id).plugins['limit-count']).toBeDefined();
      } else {
        expect(route(id).plugins['limit-count']).toBeUndefined();
      }
      if (entry.cors) expect(route(id).plugins.cors.allow_origins).toBe('*');
    }
    expect(route('shenma-chat-socket').enable_websocket).toBe(true);
    // The captcha path lives under Keycloak's /realms/gw/* and must win.
    expect(route('shenma-kaptcha-legacy').uris).toEqual(['/realms/gw/captcha/code']);
    expect(route('shenma-kaptcha-legacy').priority).toBeGreaterThan(route('shenma-identity-oidc').priority);
    expect(route('shenma-kaptcha-legacy').upstream_id).toBe('shenma-login');
    expect(route('shenma-identity-oidc').upstream_id).toBe('shenma-keycloak');
    // Metrics stay inside the network.
    expect(objects.some((o) => JSON.stringify(o.body).includes('/metrics'))).toBe(false);
    for (const o of objects) expect((o.body.labels as Record<string, string>).managed_by).toBe('shenma');
  });

  it('the validator catches a broken body (so passing above means something)', () => {
    const broken = {
      uris: ['/x'],
      upstream_id: 'u',
      methods: ['FETCH'],
      plugins: { 'limit-count': { count: 0 } },
    };
    const problems = validator.validate('routes', broken);
    expect(problems).toContain('methods.0: must be equal to one of the allowed values');
    expect(problems.some((p) => p.startsWith('plugins.limit-count'))).toBe(true);
  });
});

describe('shenma routes sync|diff|export against the Admin API double', () => {
  let double: AdminDouble;
  let dir: string;
  let configArgs: string[];
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'shenma-routes-'));
    const init = await cli([
      'init',
      '--non-interactive',
      '--config',
      path.join(dir, 'shenma.yaml'),
      '--public-url',
      'https://shenma.example.com',
      '--completion-model-url',
      'http://10.0.0.5:8000/v1',
    ]);
    expect(init.code).toBe(0);
    configArgs = ['--config', path.join(dir, 'shenma.yaml')];
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => double?.close());

  const start = async () => {
    const secrets = parseDotenv(readFileSync(path.join(dir, 'shenma.secrets.env'), 'utf8'), 's');
    double = await startAdminDouble(secrets.get('APISIX_ADMIN_KEY'));
    return ['--admin-url', double.url];
  };
  const transport = () => httpTransport({ adminUrl: double.url, key: double.key, schema: double.schemaUrl });
  const quiet = { out: () => {} };

  it('first sync creates everything, a second changes nothing, diff then reports no drift', async () => {
    const admin = await start();
    expect((await cli(['routes', 'diff', ...configArgs, ...admin])).code).toBe(1);
    const first = await cli(['routes', 'sync', ...configArgs, ...admin]);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    const total = double.store.routes.size + double.store.upstreams.size;
    expect(total).toBeGreaterThan(20);
    expect(double.writes).toHaveLength(total);
    expect(first.out).toMatch(new RegExp(`gateway synced: ${total} change\\(s\\)`));

    const before = JSON.stringify([...double.store.routes.values(), ...double.store.upstreams.values()]);
    const second = await cli(['routes', 'sync', ...configArgs, ...admin]);
    expect(second.out).toMatch(new RegExp(`gateway up to date: ${total} object\\(s\\) unchanged`));
    expect(double.writes).toHaveLength(total);
    expect(JSON.stringify([...double.store.routes.values(), ...double.store.upstreams.values()])).toBe(
      before,
    );
    const diff = await cli(['routes', 'diff', ...configArgs, ...admin]);
    expect(diff.code).toBe(0);
    expect(diff.out).toMatch(/^0 change\(s\)/m);
  });

  it('deletes what the route table no longer has, leaves foreign routes alone, updates what changed', async () => {
    await start();
    const desired = desiredFor({});
    await reconcileGateway(transport(), desired, true, quiet);
    // Someone's own route, without the Shenma label.
    double.store.routes.set('ops-team-route', {
      id: 'ops-team-route',
      uri: '/status',
      upstream_id: 'shenma-chat',
    });
    // A later version drops the trampoline routes and its upstream's only other users stay.
    const later: ApisixObject[] = desired
      .filter((o) => !o.id.startsWith('shenma-trampoline-'))
      .map((o) =>
        o.id === 'shenma-chat'
          ? { ...o, body: { ...o.body, timeout: { connect: 5, send: 60, read: 1200 } } }
          : o,
      );
    const lines: string[] = [];
    double.writes.length = 0;
    await reconcileGateway(transport(), later, true, { out: (l) => lines.push(l) });
    expect(double.writes.map((w) => `${w.method} ${w.path}`).sort()).toEqual(
      [
        'DELETE /apisix/admin/routes/shenma-trampoline-ok',
        'DELETE /apisix/admin/routes/shenma-trampoline-resources',
        'PUT /apisix/admin/upstreams/shenma-chat',
      ].sort(),
    );
    expect(double.store.routes.has('ops-team-route')).toBe(true);
    expect(lines.at(-1)).toMatch(/1 not managed by Shenma left alone/);
  });

  it('removes an upstream no route uses any more, after the routes (APISIX refuses the other order)', async () => {
    await start();
    const desired = desiredFor({});
    await reconcileGateway(transport(), desired, true, quiet);
    const withoutLogin = desired.filter(
      (o) => o.id !== 'shenma-login' && (o.body.upstream_id as string) !== 'shenma-login',
    );
    await reconcileGateway(transport(), withoutLogin, true, quiet);
    expect(double.store.upstreams.has('shenma-login')).toBe(false);
    expect([...double.store.routes.values()].some((r) => r.upstream_id === 'shenma-login')).toBe(false);
  });

  it('a 4xx from the Admin API stops the sync with the object named', async () => {
    const admin = await start();
    double.failNext('routes', 'shenma-chat-models', 400, 'invalid plugins configuration: something is off');
    const r = await cli(['routes', 'sync', ...configArgs, ...admin]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /create routes\/shenma-chat-models refused by the APISIX Admin API: HTTP 400 invalid plugins configuration: something is off/,
    );
    const after = double.writes.findIndex((w) => w.path.endsWith('/shenma-chat-models'));
    expect(double.writes).toHaveLength(after + 1);
  });

  it('refuses to overwrite an unlabelled object that has one of our ids, and a body the schema rejects', async () => {
    await start();
    double.store.upstreams.set('shenma-chat', { id: 'shenma-chat', type: 'roundrobin', nodes: { 'x:1': 1 } });
    await expect(reconcileGateway(transport(), desiredFor({}), true, quiet)).rejects.toThrow(
      /upstreams\/shenma-chat exists without the Shenma label.*refusing to overwrite/,
    );
    double.store.upstreams.clear();
    const bad = desiredFor({}).map((o) =>
      o.id === 'shenma-chat-models' ? { ...o, body: { ...o.body, methods: ['FETCH'] } } : o,
    );
    await expect(reconcileGateway(transport(), bad, true, quiet)).rejects.toThrow(
      /routes\/shenma-chat-models does not match APISIX's schema:\n {2}methods\.0/,
    );
    expect(double.writes).toHaveLength(0);
  });

  it('a wrong admin key is a clear error', async () => {
    await start();
    const wrong = httpTransport({ adminUrl: double.url, key: 'not-the-key', schema: double.schemaUrl });
    await expect(reconcileGateway(wrong, desiredFor({}), true, quiet)).rejects.toThrow(
      /listing upstreams failed: HTTP 401 failed to check token/,
    );
  });

  it('export prints the desired objects with secrets masked', async () => {
    const r = await cli(['routes', 'export', ...configArgs]);
    expect(r.code).toBe(0);
    const objects = JSON.parse(r.out) as ApisixObject[];
    expect(objects.find((o) => o.id === 'shenma-chat-models-jwt')!.body.plugins).toMatchObject({
      'openid-connect': { client_secret: '<OIDC_GATEWAY_CLIENT_SECRET>' },
    });
    const secret = parseDotenv(readFileSync(path.join(dir, 'shenma.secrets.env'), 'utf8'), 's').get(
      'OIDC_GATEWAY_CLIENT_SECRET',
    )!;
    expect(r.out).not.toContain(secret);
  });
});
