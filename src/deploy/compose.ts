import type { SizedService } from '../config/deploy.js';
import { envReferences } from '../config/load.js';
import type { ShenmaConfig } from '../config/schema.js';
import { etcdServerArgs } from './etcd.js';
import { LOCAL_MODEL_URLS } from './init.js';
import {
  KEYCLOAK_PORT,
  METRICS_TOKEN_FILE,
  publicBase,
  SHENMA_PORT,
  SHENMA_SERVICE_ROLES,
  shenmaServices,
} from './topology.js';

/**
 * compose.yaml for the deployed shape. Secrets appear only as ${NAME} references, filled by
 * Compose from the rendered folder's .env; only the entry port (and the consoles on
 * consoleAddress) are published; every service has a healthcheck, a memory limit and a restart
 * policy, and waits for what it needs to be healthy.
 */

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: 'service_healthy' | 'service_started'; required?: boolean }>;
  healthcheck: { test: string[]; interval: string; timeout: string; retries: number; start_period: string };
  restart: 'unless-stopped' | 'no';
  mem_limit: string;
  networks: string[];
  profiles?: string[];
  user?: string;
  ulimits?: Record<string, { soft: number; hard: number }>;
  extra_hosts?: string[];
  deploy?: Record<string, unknown>;
  stop_grace_period?: string;
}

export interface ComposeFile {
  name: string;
  services: Record<string, ComposeService>;
  networks: Record<string, { driver: string }>;
  volumes: Record<string, Record<string, never>>;
}

export const NETWORK = 'shenma';
/** The one-shot job that fills the models volume (and the compose profile that holds it). */
export const MODELS_PULL_SERVICE = 'models-pull';

export interface ComposeOptions {
  /** The Shenma package root as seen from the deploy folder (the image's build context). */
  buildContext: string;
  /** Path of the Dockerfile relative to the build context. */
  dockerfile: string;
  /** Shenma's version: the image tag. */
  version: string;
  /** The shenma.yaml the containers read (files/container-config.ts): its ${NAME}s are passed in. */
  containerConfig: string;
}

const healthy = { condition: 'service_healthy' } as const;

function check(test: string[], startPeriod = '30s', retries = 12) {
  return { test, interval: '10s', timeout: '5s', retries, start_period: startPeriod };
}

/**
 * Health probe for images without curl (APISIX's and Keycloak's): HTTP GET over bash's /dev/tcp.
 * Run by bash itself, not `sh`: on Debian-based images `sh` is dash, which has no /dev/tcp.
 */
function tcpHttpCheck(port: number, path: string, expect: string): string[] {
  return [
    'CMD',
    'bash',
    '-c',
    `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET ${path} HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && grep -q '${expect}' <&3`,
  ];
}

export function renderCompose(config: ShenmaConfig, opts: ComposeOptions): ComposeFile {
  const d = config.deploy;
  const mem = (s: SizedService) => d.resources[s];
  const base = { restart: 'unless-stopped' as const, networks: [NETWORK] };
  const services: Record<string, ComposeService> = {};
  const volumes: ComposeFile['volumes'] = {};
  const publicHost = new URL(publicBase(config)).hostname;
  // Containers that call the public URL (token issuer discovery) reach it through the host's
  // published entry port, whatever DNS says inside the network.
  const hairpin = /^[\d.]+$|:/.test(publicHost) ? [] : [`${publicHost}:host-gateway`];

  volumes['etcd-data'] = {};
  services.etcd = {
    ...base,
    image: d.images.etcd,
    command: [
      'etcd',
      ...etcdServerArgs({
        dataDir: '/etcd-data',
        clientUrl: 'http://0.0.0.0:2379',
        advertise: 'http://etcd:2379',
        peerUrl: 'http://127.0.0.1:2380',
      }),
    ],
    volumes: ['etcd-data:/etcd-data'],
    healthcheck: check(['CMD', 'etcdctl', '--endpoints=http://127.0.0.1:2379', 'endpoint', 'health'], '10s'),
    mem_limit: mem('etcd'),
  };

  const entryPorts = [`${d.publishAddress}:${d.ports.http}:9080`];
  const apisixVolumes = ['./apisix/config.yaml:/usr/local/apisix/conf/config.yaml:ro'];
  if (d.tls) entryPorts.push(`${d.publishAddress}:${d.ports.https}:9443`);
  services.apisix = {
    ...base,
    image: d.images.apisix,
    environment: { APISIX_ADMIN_KEY: '${APISIX_ADMIN_KEY}' },
    ports: entryPorts,
    volumes: apisixVolumes,
    depends_on: { etcd: healthy },
    // The Control API answers on loopback only; it is up once APISIX has loaded its config.
    // The image has no curl (removed upstream on purpose, apache/apisix#11531).
    healthcheck: check(tcpHttpCheck(9090, '/v1/schema', 'HTTP/1.1 200'), '20s'),
    mem_limit: mem('apisix'),
    ...(hairpin.length > 0 ? { extra_hosts: hairpin } : {}),
  };

  volumes['postgres-data'] = {};
  services.postgres = {
    ...base,
    image: d.images.postgres,
    environment: {
      POSTGRES_PASSWORD: '${POSTGRES_PASSWORD}',
      SHENMA_DB_PASSWORD: '${SHENMA_DB_PASSWORD}',
      KEYCLOAK_DB_PASSWORD: '${KEYCLOAK_DB_PASSWORD}',
      GRAFANA_DB_PASSWORD: '${GRAFANA_DB_PASSWORD}',
    },
    volumes: [
      'postgres-data:/var/lib/postgresql/data',
      './postgres/bootstrap.sh:/docker-entrypoint-initdb.d/10-shenma-bootstrap.sh:ro',
      './postgres/bootstrap.sql:/etc/shenma/bootstrap.sql:ro',
    ],
    healthcheck: check(['CMD-SHELL', 'pg_isready -U postgres -d postgres -h 127.0.0.1'], '20s'),
    mem_limit: mem('postgres'),
    stop_grace_period: '60s',
  };

  volumes['redis-data'] = {};
  services.redis = {
    ...base,
    image: d.images.redis,
    environment: { REDIS_PASSWORD: '${REDIS_PASSWORD}' },
    // The password comes from the environment at start; no config file with it is written.
    command: ['sh', '-c', 'exec redis-server --requirepass "$$REDIS_PASSWORD" --appendonly yes --dir /data'],
    volumes: ['redis-data:/data'],
    healthcheck: check(['CMD-SHELL', 'REDISCLI_AUTH="$$REDIS_PASSWORD" redis-cli ping | grep -q PONG'], '5s'),
    mem_limit: mem('redis'),
  };

  if (d.identity === 'keycloak') {
    services.keycloak = {
      ...base,
      image: d.images.keycloak,
      ports: [`${d.consoleAddress}:${d.ports.keycloak}:${KEYCLOAK_PORT}`],
      command: ['start', '--import-realm'],
      environment: {
        KC_DB: 'postgres',
        KC_DB_URL: 'jdbc:postgresql://postgres:5432/keycloak',
        KC_DB_USERNAME: 'keycloak',
        KC_DB_PASSWORD: '${KEYCLOAK_DB_PASSWORD}',
        KC_BOOTSTRAP_ADMIN_USERNAME: 'admin',
        KC_BOOTSTRAP_ADMIN_PASSWORD: '${KEYCLOAK_ADMIN_PASSWORD}',
        // The gw realm's own frontendUrl (keycloak-realm.ts) is the public URL: browsers and the
        // issuer use it. Everything else, the master realm and its admin console, answers on the
        // console address (not routed through the gateway, as Keycloak advises): the console's
        // login runs at its realm's frontend URL, so a public hostname would send it to a
        // /realms/master the gateway does not route (keycloak/keycloak#29641). Calls from inside
        // the network get internal URLs for the back-channel endpoints (JWKS, token, introspection).
        KC_HOSTNAME: keycloakConsoleUrl(config),
        KC_HOSTNAME_BACKCHANNEL_DYNAMIC: 'true',
        KC_HTTP_ENABLED: 'true',
        KC_PROXY_HEADERS: 'xforwarded',
        KC_HEALTH_ENABLED: 'true',
        // The realm import reads these placeholders; the file holds no secret itself.
        OIDC_GATEWAY_CLIENT_SECRET: '${OIDC_GATEWAY_CLIENT_SECRET}',
      },
      volumes: ['./keycloak/realm-gw.json:/opt/keycloak/data/import/realm-gw.json:ro'],
      depends_on: { postgres: healthy },
      healthcheck: check(tcpHttpCheck(9000, '/health/ready', '"UP"'), '120s', 30),
      mem_limit: mem('keycloak'),
    };
  }

  const image = `shenma:${opts.version}`;
  const env = shenmaEnvironment(config, opts.containerConfig);
  let first = true;
  for (const svc of shenmaServices(config)) {
    services[svc] = {
      ...base,
      image,
      // One build serves every Shenma service; the others reuse the image it tags.
      ...(first ? { build: { context: opts.buildContext, dockerfile: opts.dockerfile } } : {}),
      command: [
        'start',
        '--roles',
        SHENMA_SERVICE_ROLES[svc].join(','),
        '--config',
        '/etc/shenma/shenma.yaml',
        '--data-dir',
        '/var/lib/shenma',
        '--host',
        '0.0.0.0',
        '--port',
        String(SHENMA_PORT),
      ],
      environment: env,
      volumes: ['./shenma/shenma.yaml:/etc/shenma/shenma.yaml:ro'],
      depends_on: { postgres: healthy, redis: healthy },
      healthcheck: check(
        [
          'CMD',
          'node',
          '-e',
          `fetch('http://127.0.0.1:${SHENMA_PORT}/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`,
        ],
        '20s',
      ),
      mem_limit: mem(svc as SizedService),
      ...(hairpin.length > 0 ? { extra_hosts: hairpin } : {}),
      deploy: { replicas: d.replicas[svc as keyof typeof d.replicas] },
    };
    first = false;
  }

  if (d.ops.prometheus) {
    volumes['prometheus-data'] = {};
    services.prometheus = {
      ...base,
      image: d.images.prometheus,
      // The scrape token goes from the environment (.env, mode 0600) into a file Prometheus
      // reads (credentials_file): a bind-mounted 0600 file would not be readable by its user.
      environment: { SHENMA_METRICS_TOKEN: '${SHENMA_METRICS_TOKEN}' },
      entrypoint: [
        '/bin/sh',
        '-c',
        `umask 077 && printf '%s' "$$SHENMA_METRICS_TOKEN" > ${METRICS_TOKEN_FILE} && exec /bin/prometheus "$$@"`,
        'prometheus',
      ],
      command: [
        '--config.file=/etc/prometheus/prometheus.yml',
        '--storage.tsdb.path=/prometheus',
        '--storage.tsdb.retention.time=30d',
      ],
      volumes: [
        './prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
        './prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro',
        'prometheus-data:/prometheus',
      ],
      healthcheck: check(['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:9090/-/ready'], '10s'),
      mem_limit: mem('prometheus'),
      profiles: ['prometheus'],
    };
  }
  if (d.ops.grafana) {
    volumes['grafana-data'] = {};
    services.grafana = {
      ...base,
      image: d.images.grafana,
      environment: {
        GF_SECURITY_ADMIN_USER: 'admin',
        GF_SECURITY_ADMIN_PASSWORD: '${GRAFANA_ADMIN_PASSWORD}',
        GF_AUTH_ANONYMOUS_ENABLED: 'false',
        GF_USERS_ALLOW_SIGN_UP: 'false',
        GF_DATABASE_TYPE: 'postgres',
        GF_DATABASE_HOST: 'postgres:5432',
        GF_DATABASE_NAME: 'grafana',
        GF_DATABASE_USER: 'grafana',
        GF_DATABASE_PASSWORD: '${GRAFANA_DB_PASSWORD}',
        GF_ANALYTICS_REPORTING_ENABLED: 'false',
      },
      ports: [`${d.consoleAddress}:${d.ports.grafana}:3000`],
      volumes: [
        './grafana/provisioning:/etc/grafana/provisioning:ro',
        './grafana/dashboards:/var/lib/grafana/dashboards:ro',
        'grafana-data:/var/lib/grafana',
      ],
      depends_on: { postgres: healthy, prometheus: healthy },
      healthcheck: check(['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:3000/api/health'], '30s'),
      mem_limit: mem('grafana'),
      profiles: ['grafana'],
    };
  }
  if (d.ops.elasticsearch) {
    volumes['elasticsearch-data'] = {};
    services.elasticsearch = {
      ...base,
      image: d.images.elasticsearch,
      environment: {
        'discovery.type': 'single-node',
        'xpack.security.enabled': 'true',
        'xpack.security.http.ssl.enabled': 'false',
        ELASTIC_PASSWORD: '${ELASTIC_PASSWORD}',
        ES_JAVA_OPTS: '-Xms512m -Xmx512m',
      },
      volumes: ['elasticsearch-data:/usr/share/elasticsearch/data'],
      ulimits: { memlock: { soft: -1, hard: -1 }, nofile: { soft: 65536, hard: 65536 } },
      healthcheck: check(
        [
          'CMD-SHELL',
          'curl -fsS -u "elastic:$$ELASTIC_PASSWORD" "http://127.0.0.1:9200/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null',
        ],
        '60s',
        30,
      ),
      mem_limit: mem('elasticsearch'),
      profiles: ['elasticsearch'],
    };
  }
  if (d.ops.kibana) {
    services.kibana = {
      ...base,
      image: d.images.kibana,
      environment: {
        ELASTICSEARCH_HOSTS: 'http://elasticsearch:9200',
        ELASTICSEARCH_USERNAME: 'kibana_system',
        ELASTICSEARCH_PASSWORD: '${KIBANA_SYSTEM_PASSWORD}',
        TELEMETRY_OPTIN: 'false',
      },
      ports: [`${d.consoleAddress}:${d.ports.kibana}:5601`],
      depends_on: { elasticsearch: healthy },
      healthcheck: check(
        ['CMD-SHELL', 'curl -fsS http://127.0.0.1:5601/api/status | grep -q available'],
        '120s',
        30,
      ),
      mem_limit: mem('kibana'),
      profiles: ['kibana'],
    };
  }
  if (d.localModels.enabled) {
    volumes.models = {};
    const gpus = d.localModels.gpus;
    const device =
      gpus === 'all'
        ? { driver: 'nvidia', count: 'all', capabilities: ['gpu'] }
        : typeof gpus === 'number'
          ? { driver: 'nvidia', count: gpus, capabilities: ['gpu'] }
          : { driver: 'nvidia', device_ids: gpus, capabilities: ['gpu'] };
    for (const role of ['completion', 'chat'] as const) {
      const model = d.localModels[role];
      // vLLM answers 404 for a model name it does not serve, and Shenma sends each entry's
      // `model` (else its `name`): every entry pointing here is served under that name too.
      const sent = config.models
        .filter((m) => m.url.replace(/\/+$/, '') === LOCAL_MODEL_URLS[role])
        .map((m) => m.model ?? m.name);
      services[`vllm-${role}`] = {
        ...base,
        image: d.images.vllm,
        command: [
          '--model',
          model.startsWith('/') ? model : `/models/${model}`,
          '--served-model-name',
          ...new Set([model, ...sent]),
          '--port',
          '8000',
        ],
        environment: { HF_HUB_OFFLINE: '1' },
        volumes: ['models:/models'],
        healthcheck: check(
          [
            'CMD',
            'python3',
            '-c',
            "import urllib.request;urllib.request.urlopen('http://127.0.0.1:8000/health')",
          ],
          '600s',
          30,
        ),
        mem_limit: mem('vllm'),
        deploy: { resources: { reservations: { devices: [device] } } },
      };
    }
    // A job, not a service: `up` runs it (`shenma models pull`) when the volume lacks weights, so
    // it never starts with the stack (its own profile) and has nothing to report health on. It
    // runs as root because Docker creates the volume's top folder root-owned (vLLM reads as root).
    services[MODELS_PULL_SERVICE] = {
      restart: 'no',
      networks: [NETWORK],
      image,
      // `up` runs this job before the stack's first start, with --no-deps: without its own build
      // Compose would try to pull shenma:<version> from a registry, where it is not.
      build: { context: opts.buildContext, dockerfile: opts.dockerfile },
      command: ['models', 'pull', '--help'],
      volumes: ['models:/models'],
      user: '0:0',
      healthcheck: check(['NONE']),
      mem_limit: '512m',
      profiles: [MODELS_PULL_SERVICE],
    };
  }

  return { name: d.project, services, networks: { [NETWORK]: { driver: 'bridge' } }, volumes };
}

/**
 * What every Shenma container gets: its credentials as ${NAME} references, nothing literal, and
 * every other variable its config references, from the environment `docker compose` runs in
 * (`${NAME:-}`: a command like `shenma logs` must not fail for a key its shell lacks; `shenma up`
 * checks the required ones first).
 */
function shenmaEnvironment(config: ShenmaConfig, containerConfig: string): Record<string, string> {
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    SHENMA_DB_PASSWORD: '${SHENMA_DB_PASSWORD}',
    REDIS_PASSWORD: '${REDIS_PASSWORD}',
    SHENMA_METRICS_TOKEN: '${SHENMA_METRICS_TOKEN}',
  };
  if (config.deploy.ops.elasticsearch) env.ELASTIC_PASSWORD = '${ELASTIC_PASSWORD}';
  if (config.deploy.identity === 'shenma') env.SHENMA_OIDC_SIGNING_KEYS = '${SHENMA_OIDC_SIGNING_KEYS}';
  for (const { name } of envReferences(containerConfig)) env[name] ??= `\${${name}:-}`;
  return env;
}

/** Ports the stack may publish on the host, for checks: entry, TLS entry, consoles. */
export function allowedPublishedPorts(config: ShenmaConfig): string[] {
  const d = config.deploy;
  const list = [`${d.publishAddress}:${d.ports.http}:9080`];
  if (d.tls) list.push(`${d.publishAddress}:${d.ports.https}:9443`);
  if (d.ops.grafana) list.push(`${d.consoleAddress}:${d.ports.grafana}:3000`);
  if (d.ops.kibana) list.push(`${d.consoleAddress}:${d.ports.kibana}:5601`);
  if (d.identity === 'keycloak') list.push(`${d.consoleAddress}:${d.ports.keycloak}:${KEYCLOAK_PORT}`);
  return list;
}

/** Where Keycloak's admin console answers on the host (deploy.consoleAddress). */
export function keycloakConsoleUrl(config: ShenmaConfig): string {
  const d = config.deploy;
  const host =
    d.consoleAddress.includes(':') && !d.consoleAddress.startsWith('[')
      ? `[${d.consoleAddress}]`
      : d.consoleAddress;
  return `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${d.ports.keycloak}`;
}

/** Compose profiles `up` enables: the ops services switched on in deploy.ops. */
export function enabledProfiles(config: ShenmaConfig): string[] {
  const o = config.deploy.ops;
  return (['prometheus', 'grafana', 'elasticsearch', 'kibana'] as const).filter((p) => o[p]);
}
