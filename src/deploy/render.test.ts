import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Ajv } from 'ajv';
import addFormatsImport from 'ajv-formats';
import { DockerfileParser } from 'dockerfile-ast';
import { validate as lintDockerfile } from 'dockerfile-utils';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { cli } from '../../test/support/cli.js';
import { PG_ADMIN_URL, postgresReachable } from '../../test/support/postgres.js';
import { reachableTempDir } from '../../test/support/temp-dir.js';
import { chatMetrics } from '../chat/metrics.js';
import { CHAT_STATUSES } from '../chat/types.js';
import { completionMetrics } from '../completion/metrics.js';
import { envReferences, parseConfig } from '../config/load.js';
import { modelMetrics } from '../models/metrics.js';
import { allowedPublishedPorts, type ComposeFile, MODELS_PULL_SERVICE } from './compose.js';
import { deploymentDatabases, renderBootstrapSql } from './files/postgres.js';
import { LOCAL_MODEL_URLS } from './init.js';
import { renderFiles } from './render.js';
import { parseDotenv, SECRET_NAMES, type Secrets } from './secrets.js';
import { METRICS_TOKEN_FILE } from './topology.js';

/**
 * The rendered deploy folder, checked the ways possible without a Docker engine: the Compose
 * Specification JSON schema (dclint's copy), cross-references Compose itself would only find at
 * `up`, a Dockerfile linter, promtool on the Prometheus files and every dashboard query, the
 * documented shapes of the Elasticsearch template and Kibana data view, real PostgreSQL for the
 * bootstrap, and a golden copy of the whole folder.
 */

type AddFormats = (ajv: Ajv) => Ajv;
const addFormats: AddFormats =
  (addFormatsImport as unknown as { default?: AddFormats }).default ??
  (addFormatsImport as unknown as AddFormats);
const require = createRequire(import.meta.url);
const composeSchemaFile = path.join(
  path.dirname(require.resolve('dclint/package.json')),
  'schemas',
  'compose.schema.json',
);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = reachableTempDir('shenma-render-');
  dirs.push(d);
  return d;
}

interface Rendered {
  dir: string;
  deploy: string;
  compose: ComposeFile;
  secrets: Map<string, string>;
}

async function initAndRender(extra: string[]): Promise<Rendered> {
  const dir = tempDir();
  const config = path.join(dir, 'shenma.yaml');
  const init = await cli([
    'init',
    '--non-interactive',
    '--config',
    config,
    '--public-url',
    'https://shenma.example.com',
    '--completion-model-url',
    'http://10.0.0.5:8000/v1',
    '--completion-api-key-env',
    'CODER_KEY',
    ...extra,
  ]);
  expect(init.err).toBe('');
  const r = await cli(['render', '--config', config]);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const deploy = path.join(dir, 'deploy');
  return {
    dir,
    deploy,
    compose: parse(readFileSync(path.join(deploy, 'compose.yaml'), 'utf8')) as ComposeFile,
    secrets: parseDotenv(readFileSync(path.join(dir, 'shenma.secrets.env'), 'utf8'), 'secrets'),
  };
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

describe('shenma render: the deploy folder', () => {
  let keycloak: Rendered;
  let local: Rendered;
  beforeAll(async () => {
    keycloak = await initAndRender([]);
    local = await initAndRender(['--identity', 'shenma', '--local-models']);
  });

  it('compose.yaml validates against the Compose Specification schema', () => {
    // dclint's schema names its draft-07 meta-schema by an https URL ajv does not alias; the draft is ajv's default.
    const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
    addFormats(ajv);
    const check = ajv.compile(JSON.parse(readFileSync(composeSchemaFile, 'utf8')));
    for (const r of [keycloak, local]) {
      const ok = check(r.compose);
      expect(ok ? [] : check.errors).toEqual([]);
    }
    // The schema check can fail: a typo'd condition is caught.
    const broken = structuredClone(keycloak.compose);
    (broken.services.apisix!.depends_on!.etcd as { condition: string }).condition = 'service_happy';
    expect(check(broken)).toBe(false);
  });

  it('cross-references hold: depends_on, volumes, networks, mounted files, ${VAR}s', () => {
    for (const r of [keycloak, local]) {
      const { services, volumes, networks } = r.compose;
      const env = parseDotenv(readFileSync(path.join(r.deploy, '.env'), 'utf8'), '.env');
      const containerConfig = readFileSync(path.join(r.deploy, 'shenma', 'shenma.yaml'), 'utf8');
      const modelKeys = new Set(envReferences(containerConfig).map((ref) => ref.name));
      expect(modelKeys.has('CODER_KEY')).toBe(true);
      for (const [name, s] of Object.entries(services)) {
        for (const [dep, cond] of Object.entries(s.depends_on ?? {})) {
          expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
          expect(cond.condition).toBe('service_healthy');
          // A dependency that is optional (profile) must not be required by an always-on service.
          if (services[dep]!.profiles) expect(s.profiles, `${name} needs optional ${dep}`).toBeDefined();
        }
        for (const n of s.networks) expect(networks[n], `${name} network ${n}`).toBeDefined();
        for (const v of s.volumes ?? []) {
          const source = v.split(':')[0]!;
          if (source.startsWith('./'))
            expect(existsSync(path.join(r.deploy, source)), `${name} mounts ${source}`).toBe(true);
          else expect(volumes[source], `${name} volume ${source}`).toBeDefined();
        }
        if (name === MODELS_PULL_SERVICE) {
          // The one-off weights job: never part of the running stack, nothing to report health on.
          expect(s.profiles).toEqual([MODELS_PULL_SERVICE]);
          expect(s.healthcheck.test).toEqual(['NONE']);
          expect(s.restart).toBe('no');
          expect(s.volumes).toEqual(['models:/models']);
          // It runs with --no-deps before the first start: it must be able to build Shenma's image itself.
          expect(s.build).toEqual(services.completion!.build);
        } else {
          expect(s.healthcheck.test.length, `${name} healthcheck`).toBeGreaterThan(0);
          expect(s.healthcheck.test[0], `${name} healthcheck`).not.toBe('NONE');
          expect(s.restart).toBe('unless-stopped');
        }
        expect(s.mem_limit).toMatch(/^\d+[kmg]$/);
        if (s.image) {
          expect(s.image, `${name} image pinned`).toMatch(/:[^:/]+$/);
          expect(s.image).not.toMatch(/:latest$/);
        }
      }
      // Every ${NAME} Compose interpolates is in .env (credentials) or is a model key the operator sets.
      const text = readFileSync(path.join(r.deploy, 'compose.yaml'), 'utf8');
      for (const [, name] of text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}/g)) {
        expect(env.has(name!) || modelKeys.has(name!), `\${${name}} defined`).toBe(true);
      }
      expect(statSync(path.join(r.deploy, '.env')).mode & 0o777).toBe(0o600);
    }
  });

  it('the APISIX and Keycloak healthchecks run under bash (no curl in those images) and tell up from down', async () => {
    const services = keycloak.compose.services;
    const server = createServer((req, res) => {
      if (req.url === '/v1/schema') return void res.writeHead(200).end('{"plugins":{}}');
      if (req.url === '/health/ready') return void res.writeHead(200).end('{"status": "UP"}');
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      for (const name of ['apisix', 'keycloak']) {
        const test = services[name]!.healthcheck.test;
        expect(test.slice(0, 3), name).toEqual(['CMD', 'bash', '-c']);
        expect(test.join(' '), name).not.toContain('curl');
        const run = async (script: string) => {
          const child = spawn('bash', ['-c', script]);
          return new Promise<number | null>((r) => child.once('close', r));
        };
        const script = test[3]!.replace(/\/127\.0\.0\.1\/\d+/, `/127.0.0.1/${port}`);
        expect(await run(script), `${name} healthy`).toBe(0);
        expect(await run(script.replace(/^(.*GET )\/\S+/, '$1/missing')), `${name} not healthy`).not.toBe(0);
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('each local vLLM serves the model name Shenma sends it (vLLM answers 404 to any other)', () => {
    const config = parseConfig(parse(readFileSync(path.join(local.dir, 'shenma.yaml'), 'utf8')), 'x', {
      CODER_KEY: 'k',
    });
    for (const role of ['completion', 'chat'] as const) {
      const command = local.compose.services[`vllm-${role}`]!.command!;
      const at = command.indexOf('--served-model-name');
      const next = command.findIndex((a, i) => i > at && a.startsWith('--'));
      const served = command.slice(at + 1, next);
      const entries = config.models.filter((m) => m.url === LOCAL_MODEL_URLS[role]);
      expect(entries.length, role).toBeGreaterThan(0);
      for (const m of entries) expect(served, `${role}: ${m.name}`).toContain(m.model ?? m.name);
      expect(served).toContain(config.deploy.localModels[role]);
    }
  });

  it('every Shenma container starts on its config with exactly the environment Compose gives it', () => {
    for (const r of [keycloak, local]) {
      const dotenv = parseDotenv(readFileSync(path.join(r.deploy, '.env'), 'utf8'), '.env');
      // What the operator's shell holds when running `shenma up`: the model key, nothing Shenma's.
      const shell: Record<string, string> = { CODER_KEY: 'sk-model-key' };
      const containerConfig = parse(readFileSync(path.join(r.deploy, 'shenma', 'shenma.yaml'), 'utf8'));
      const shenmaServices = Object.entries(r.compose.services).filter(
        ([name, s]) => s.image?.startsWith('shenma:') && name !== MODELS_PULL_SERVICE,
      );
      expect(shenmaServices.length).toBeGreaterThanOrEqual(3);
      for (const [name, s] of shenmaServices) {
        // Compose's interpolation of the service's environment: ${NAME} and ${NAME:-fallback}.
        const env = Object.fromEntries(
          Object.entries(s.environment ?? {}).map(([k, v]) => [
            k,
            String(v).replace(
              /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
              (_m, n: string, fallback?: string) => dotenv.get(n) ?? shell[n] ?? fallback ?? '',
            ),
          ]),
        );
        expect(() => parseConfig(containerConfig, `${name}'s shenma.yaml`, env), name).not.toThrow();
        const config = parseConfig(containerConfig, name, env);
        expect(config.models[0]!.apiKey, `${name} gets the model key`).toBe('sk-model-key');
      }
    }
  });

  it('publishes only the entry port on all interfaces, consoles on loopback, never the Admin API or the stores', () => {
    const published = Object.entries(keycloak.compose.services).flatMap(([n, s]) =>
      (s.ports ?? []).map((p) => `${n} ${p}`),
    );
    expect(published.sort()).toEqual([
      'apisix 0.0.0.0:9080:9080',
      'grafana 127.0.0.1:3000:3000',
      'keycloak 127.0.0.1:8081:8080',
      'kibana 127.0.0.1:5601:5601',
    ]);
    const config = parseConfig({ publicUrl: 'https://s.example.com' });
    expect(allowedPublishedPorts(config)).toEqual([
      '0.0.0.0:9080:9080',
      '127.0.0.1:3000:3000',
      '127.0.0.1:5601:5601',
      '127.0.0.1:8081:8080',
    ]);
    // Keycloak's admin console is not routed through the gateway: Keycloak's hostname (the master
    // realm, where the console signs in) is where it is published; the gw realm keeps the public
    // URL as its own frontendUrl.
    expect(keycloak.compose.services.keycloak!.environment!.KC_HOSTNAME).toBe('http://127.0.0.1:8081');
    const realm = JSON.parse(readFileSync(path.join(keycloak.deploy, 'keycloak/realm-gw.json'), 'utf8'));
    expect(realm.attributes.frontendUrl).toBe('https://shenma.example.com');
    expect(local.compose.services.keycloak).toBeUndefined();
  });

  it('no secret value appears in compose.yaml or any mounted file; only in .env', () => {
    for (const r of [keycloak, local]) {
      for (const file of listFiles(r.deploy)) {
        if (file === '.env') continue;
        const text = readFileSync(path.join(r.deploy, file), 'utf8');
        for (const name of SECRET_NAMES)
          expect(text.includes(r.secrets.get(name)!), `${name} in ${file}`).toBe(false);
      }
    }
  });

  it('the services: roles from one image with replicas, Keycloak or the identity service, ops profiles, GPUs for vLLM', () => {
    const k = keycloak.compose.services;
    expect(Object.keys(k).sort()).toEqual(
      [
        'apisix',
        'chat',
        'completion',
        'elasticsearch',
        'etcd',
        'grafana',
        'keycloak',
        'kibana',
        'login',
        'postgres',
        'prometheus',
        'redis',
      ].sort(),
    );
    expect(k.completion!.command).toEqual(expect.arrayContaining(['start', '--roles', 'completion']));
    expect(k.login!.command).toContain('trampoline,kaptcha');
    expect(k.completion!.build).toBeDefined();
    expect(k.chat!.image).toBe(k.completion!.image);
    expect(k.grafana!.profiles).toEqual(['grafana']);
    expect(readFileSync(path.join(keycloak.deploy, '.env'), 'utf8')).toMatch(
      /^COMPOSE_PROFILES=prometheus,grafana,elasticsearch,kibana$/m,
    );
    const l = local.compose.services;
    expect(l.keycloak).toBeUndefined();
    expect(l.identity!.command).toEqual(expect.arrayContaining(['--roles', 'identity']));
    expect(l.identity!.environment!.SHENMA_OIDC_SIGNING_KEYS).toBe('${SHENMA_OIDC_SIGNING_KEYS}');
    expect(l['vllm-completion']!.deploy).toEqual({
      resources: { reservations: { devices: [{ driver: 'nvidia', count: 'all', capabilities: ['gpu'] }] } },
    });
    const container = parse(readFileSync(path.join(local.deploy, 'shenma/shenma.yaml'), 'utf8'));
    expect(container.models[0].url).toBe('http://vllm-completion:8000/v1');
    expect(container.database.url).toBe('postgresql://shenma:${SHENMA_DB_PASSWORD}@postgres:5432/shenma');
    expect(container.deploy).toBeUndefined();
  });

  it('the Dockerfile passes a Dockerfile linter and is multi-stage, Node 22, non-root, with a healthcheck', () => {
    const text = readFileSync(path.join(keycloak.deploy, 'Dockerfile'), 'utf8');
    expect(lintDockerfile(text)).toEqual([]);
    const df = DockerfileParser.parse(text);
    const froms = df.getFROMs();
    expect(froms).toHaveLength(2);
    for (const f of froms) expect(f.getImageName()).toBe('node');
    expect(froms[1]!.getImageTag()).toMatch(/^(22|24)\./);
    const last = df
      .getInstructions()
      .filter((i) => i.getRange().start.line > froms[1]!.getRange().start.line);
    const user = last.filter((i) => i.getKeyword() === 'USER').pop();
    expect(user?.getArgumentsContent()).toBe('node');
    expect(last.some((i) => i.getKeyword() === 'HEALTHCHECK')).toBe(true);
    // The broken case fails the linter.
    expect(lintDockerfile('FROM node:22\nHEALTHCHECK\nUSER').length).toBeGreaterThan(0);
  });

  it('alerts and panels filter the chat series on outcomes the chat code records, not HTTP codes', () => {
    const alerts = readFileSync(path.join(keycloak.deploy, 'prometheus/alerts.yml'), 'utf8');
    const dashboard = readFileSync(path.join(keycloak.deploy, 'grafana/dashboards/shenma.json'), 'utf8');
    const matchers = [
      ...`${alerts}\n${dashboard}`.matchAll(/shenma_chat_\w+\{[^}]*?status=~?\\*"([^"\\]+)\\*"/g),
    ];
    expect(matchers.length).toBeGreaterThanOrEqual(2);
    for (const [, values] of matchers) {
      for (const v of values!.split('|')) expect(CHAT_STATUSES, v).toContain(v);
    }
  });

  it('promtool accepts the Prometheus config, the alert rules and every dashboard query', () => {
    const prom = path.join(keycloak.deploy, 'prometheus');
    // promtool wants the scrape token file to exist; it is written inside the container at start
    // (compose.ts), so the check points the same config at a stand-in beside it.
    const config = readFileSync(path.join(prom, 'prometheus.yml'), 'utf8');
    expect(config).toContain(`credentials_file: ${METRICS_TOKEN_FILE}`);
    const standIn = path.join(prom, 'metrics-token');
    writeFileSync(standIn, 'token');
    const checked = path.join(prom, 'prometheus.checked.yml');
    writeFileSync(checked, config.replaceAll(METRICS_TOKEN_FILE, standIn));
    expect(execFileSync('promtool', ['check', 'config', checked], { encoding: 'utf8' })).toMatch(/SUCCESS/);
    // The file the entrypoint writes is the one every Shenma job reads, from the variable the Shenma containers get.
    const prometheus = keycloak.compose.services.prometheus!;
    expect(prometheus.entrypoint!.join(' ')).toContain(`"$$SHENMA_METRICS_TOKEN" > ${METRICS_TOKEN_FILE}`);
    expect(prometheus.environment!.SHENMA_METRICS_TOKEN).toBe('${SHENMA_METRICS_TOKEN}');
    expect(keycloak.compose.services.completion!.environment!.SHENMA_METRICS_TOKEN).toBe(
      '${SHENMA_METRICS_TOKEN}',
    );
    expect(
      execFileSync('promtool', ['check', 'rules', path.join(prom, 'alerts.yml')], { encoding: 'utf8' }),
    ).toMatch(/SUCCESS: 6 rules/);
    const dashboard = JSON.parse(
      readFileSync(path.join(keycloak.deploy, 'grafana/dashboards/shenma.json'), 'utf8'),
    );
    const exprs: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) =>
      p.targets.map((t) => t.expr),
    );
    expect(exprs.length).toBeGreaterThan(10);
    const rulesFile = path.join(tempDir(), 'dashboard-queries.yml');
    writeFileSync(
      rulesFile,
      JSON.stringify({
        groups: [
          { name: 'dashboard', rules: exprs.map((expr, i) => ({ record: `shenma:panel_${i}`, expr })) },
        ],
      }),
    );
    const r = spawnSync('promtool', ['check', 'rules', rulesFile], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toMatch(new RegExp(`SUCCESS: ${exprs.length} rules`));
    // The dashboard reads the data source provisioning creates.
    const ds = parse(
      readFileSync(path.join(keycloak.deploy, 'grafana/provisioning/datasources/prometheus.yaml'), 'utf8'),
    );
    expect(
      dashboard.panels.every(
        (p: { datasource: { uid: string } }) => p.datasource.uid === ds.datasources[0].uid,
      ),
    ).toBe(true);
    for (const metric of [
      'shenma_completion_requests_total',
      'shenma_chat_first_token_seconds',
      'shenma_completion_cache_total',
      'shenma_model_replica_concurrency_limit',
      'shenma_model_replica_in_flight',
      'apisix_http_status',
    ])
      expect(exprs.some((e) => e.includes(metric))).toBe(true);
    // Every Shenma series a panel reads is one Shenma exports (a renamed metric would leave a blank panel).
    const registry = new Registry();
    completionMetrics(registry);
    chatMetrics(registry);
    modelMetrics(registry);
    const exported = new Set(
      registry.getMetricsAsArray().flatMap((m) => {
        const base = m.name;
        return String(m.type) === 'histogram' ? [`${base}_bucket`, `${base}_sum`, `${base}_count`] : [base];
      }),
    );
    const read = new Set(exprs.flatMap((e) => e.match(/\bshenma_[a-z_]+/g) ?? []));
    const modelChatCompletion = [...read].filter((n) => /^shenma_(completion|chat|model|upstream)_/.test(n));
    expect(modelChatCompletion.length).toBeGreaterThan(5);
    expect(modelChatCompletion.filter((n) => !exported.has(n))).toEqual([]);
  });

  it('the Elasticsearch index template and Kibana data view have the documented shapes', () => {
    const tpl = JSON.parse(
      readFileSync(path.join(keycloak.deploy, 'elasticsearch/index-template.json'), 'utf8'),
    );
    expect(tpl.index_patterns).toEqual(['shenma-usage*']);
    const types = new Set(['date', 'keyword', 'long', 'boolean', 'text', 'integer', 'float']);
    for (const [field, m] of Object.entries(
      tpl.template.mappings.properties as Record<string, { type: string }>,
    ))
      expect(types.has(m.type), `${field}: ${m.type}`).toBe(true);
    const view = JSON.parse(readFileSync(path.join(keycloak.deploy, 'kibana/data-view.json'), 'utf8'));
    expect(Object.keys(view.data_view).sort()).toEqual(['id', 'name', 'timeFieldName', 'title']);
    expect(tpl.template.mappings.properties[view.data_view.timeFieldName].type).toBe('date');
    expect(tpl.index_patterns[0]).toBe(view.data_view.title);
  });

  it('the Keycloak realm adds the gateway client with its secret as an import placeholder', () => {
    const realm = JSON.parse(readFileSync(path.join(keycloak.deploy, 'keycloak/realm-gw.json'), 'utf8'));
    const gw = realm.clients.find((c: { clientId: string }) => c.clientId === 'shenma-gateway');
    expect(gw.secret).toBe('${OIDC_GATEWAY_CLIENT_SECRET}');
    expect(realm.bruteForceProtected).toBe(true);
    expect(keycloak.compose.services.keycloak!.environment!.OIDC_GATEWAY_CLIENT_SECRET).toBe(
      '${OIDC_GATEWAY_CLIENT_SECRET}',
    );
  });

  it('re-rendering after switching identity removes the files no longer rendered', async () => {
    const r = await initAndRender([]);
    expect(existsSync(path.join(r.deploy, 'keycloak/realm-gw.json'))).toBe(true);
    writeFileSync(path.join(r.deploy, 'operator-notes.txt'), 'mine');
    await cli([
      'init',
      '--non-interactive',
      '--config',
      path.join(r.dir, 'shenma.yaml'),
      '--identity',
      'shenma',
    ]);
    expect((await cli(['render', '--config', path.join(r.dir, 'shenma.yaml')])).code).toBe(0);
    expect(existsSync(path.join(r.deploy, 'keycloak/realm-gw.json'))).toBe(false);
    expect(existsSync(path.join(r.deploy, 'operator-notes.txt'))).toBe(true);
  });

  it('refuses to render without a secrets file, naming the fix', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'shenma.yaml'), 'publicUrl: https://s.example.com\n');
    const r = await cli(['render', '--config', path.join(dir, 'shenma.yaml')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/shenma\.secrets\.env does not exist; run `shenma init` first/);
  });
});

describe('golden: the whole folder for a sample config', () => {
  it('matches test/golden/deploy (UPDATE_GOLDEN=1 rewrites it)', () => {
    const config = parseConfig(
      {
        publicUrl: 'https://shenma.example.com',
        models: [
          {
            name: 'coder',
            kind: 'openai',
            url: 'http://10.0.0.5:8000/v1',
            apiKey: '${CODER_KEY}',
            family: 'qwen2.5-coder',
          },
          {
            name: 'chat',
            kind: 'openai',
            url: 'https://api.deepseek.com/v1',
            apiKey: '${DS_KEY}',
            roles: ['chat'],
          },
        ],
        deploy: { replicas: { completion: 2 } },
      },
      'golden',
      { CODER_KEY: 'x', DS_KEY: 'y' },
    );
    const raw = {
      publicUrl: 'https://shenma.example.com',
      models: [
        {
          name: 'coder',
          kind: 'openai',
          url: 'http://10.0.0.5:8000/v1',
          apiKey: '${CODER_KEY}',
          family: 'qwen2.5-coder',
        },
        {
          name: 'chat',
          kind: 'openai',
          url: 'https://api.deepseek.com/v1',
          apiKey: '${DS_KEY}',
          roles: ['chat'],
        },
      ],
      deploy: { replicas: { completion: 2 } },
    };
    const secrets = Object.fromEntries(SECRET_NAMES.map((n) => [n, `golden-${n.toLowerCase()}`])) as Secrets;
    const { files } = renderFiles(config, raw, secrets, {
      dir: '/srv/shenma/deploy',
      packageRoot: '/srv/shenma-package',
      version: '0.0.0-golden',
    });
    const goldenDir = path.resolve('test/golden/deploy');
    if (process.env.UPDATE_GOLDEN) {
      rmSync(goldenDir, { recursive: true, force: true });
      for (const [rel, f] of files) {
        mkdirSync(path.dirname(path.join(goldenDir, rel)), { recursive: true });
        writeFileSync(path.join(goldenDir, rel), f.content);
      }
    }
    expect(listFiles(goldenDir).sort()).toEqual([...files.keys()].sort());
    for (const [rel, f] of files)
      expect(f.content, rel).toBe(readFileSync(path.join(goldenDir, rel), 'utf8'));
  });
});

describe('PostgreSQL bootstrap on real PostgreSQL', () => {
  it('run twice: roles and databases created once, owned by their role, each role given its password', async () => {
    if (!(await postgresReachable())) return void expect.soft(process.env.CI).toBeFalsy();
    const prefix = `t${randomBytes(4).toString('hex')}_`;
    const dbs = deploymentDatabases(prefix);
    const file = path.join(tempDir(), 'bootstrap.sql');
    writeFileSync(file, renderBootstrapSql(dbs));
    const passwords = (suffix: string) =>
      dbs.flatMap((d) => ['-v', `${d.name}_password=pw-${d.name}-${suffix}`]);
    // As the rendered bootstrap.sh runs it: quiet, tuples only, so what it prints is what it created.
    const runPsql = (suffix: string) =>
      execFileSync('psql', [PG_ADMIN_URL, '-q', '-t', '-A', ...passwords(suffix), '-f', file], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    try {
      const createdFirst = runPsql('one').split('\n').filter(Boolean);
      expect(createdFirst).toEqual(
        dbs.flatMap((d) => [`created role ${d.name}`, `created database ${d.name}`]),
      );
      const oids = async () =>
        (
          await admin.query(
            `select r.rolname, r.oid as role, d.oid as db, d.datdba = r.oid as owns from pg_roles r join pg_database d on d.datname = r.rolname where r.rolname like $1 order by 1`,
            [`${prefix}%`],
          )
        ).rows;
      const first = await oids();
      expect(first.map((r) => r.rolname)).toEqual(dbs.map((d) => d.name).sort());
      expect(first.every((r) => r.owns)).toBe(true);
      expect(runPsql('two').trim()).toBe('');
      expect(await oids()).toEqual(first);
      // The role's password is the one from the latest run (trust auth on this server cannot
      // prove a login, so read what PostgreSQL stored).
      const stored = await admin.query(
        `select rolname, rolpassword is not null as has from pg_authid where rolname like $1`,
        [`${prefix}%`],
      );
      expect(stored.rows.every((r) => r.has)).toBe(true);
    } finally {
      for (const d of dbs) {
        await admin.query(`drop database if exists "${d.name}" with (force)`);
        await admin.query(`drop role if exists "${d.name}"`);
      }
      await admin.end();
    }
  });
});
