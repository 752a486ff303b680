import { z } from 'zod';

/**
 * The `deploy:` section: how `shenma render`/`shenma up` lay out the docker compose stack. It is
 * part of the one config schema (schema.ts), so the embedded shape ignores it and every key is
 * validated and documented like the rest.
 */

/** Pinned image tags; `shenma up` records their digests in deploy/images.lock. */
const DEFAULT_IMAGES = {
  node: 'node:22.12.0-bookworm-slim',
  apisix: 'apache/apisix:3.9.1-debian',
  etcd: 'quay.io/coreos/etcd:v3.5.17',
  postgres: 'postgres:15.10-alpine',
  redis: 'redis:7.2.7-alpine',
  keycloak: 'quay.io/keycloak/keycloak:26.0.7',
  prometheus: 'prom/prometheus:v2.54.1',
  grafana: 'grafana/grafana:11.4.0',
  elasticsearch: 'docker.elastic.co/elasticsearch/elasticsearch:8.15.5',
  kibana: 'docker.elastic.co/kibana/kibana:8.15.5',
  vllm: 'vllm/vllm-openai:v0.6.4.post1',
} as const;
export type ImageName = keyof typeof DEFAULT_IMAGES;

/** A tag is required: `latest` or no tag makes an install change under the operator's feet. */
const pinnedImage = (fallback: string) =>
  z
    .string()
    .regex(
      /^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?(@sha256:[a-f0-9]{64})?$/,
      'an image reference like repo/name:1.2.3',
    )
    .refine((s) => /:[A-Za-z0-9._-]+/.test(s.replace(/^[^/]+:\d+\//, '')) || s.includes('@sha256:'), {
      message: 'pin a version tag or digest (no implicit latest)',
    })
    .refine((s) => !/:latest(@|$)/.test(s), { message: 'pin a version, not latest' })
    .default(fallback);

const imagesSchema = z
  .object(
    Object.fromEntries(Object.entries(DEFAULT_IMAGES).map(([k, v]) => [k, pinnedImage(v)])) as {
      [K in ImageName]: ReturnType<typeof pinnedImage>;
    },
  )
  .prefault({})
  .describe('Image versions (pinned tags; digests are locked by `shenma up`)');

const port = z.number().int().min(1).max(65535);
const hostAddress = z
  .string()
  .regex(/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]|::)$/, 'an IP address such as 0.0.0.0 or 127.0.0.1');

const memory = z
  .string()
  .regex(/^\d+(\.\d+)?[kmg]$/i, 'a size like 512m or 2g')
  .describe('Memory limit (compose mem_limit)');

/** Stack services with a memory limit the operator can change. */
export const SIZED_SERVICES = {
  apisix: '512m',
  etcd: '256m',
  postgres: '1g',
  redis: '256m',
  keycloak: '1536m',
  identity: '384m',
  completion: '512m',
  chat: '512m',
  login: '256m',
  prometheus: '1g',
  grafana: '384m',
  elasticsearch: '2g',
  kibana: '1g',
  vllm: '24g',
} as const;
export type SizedService = keyof typeof SIZED_SERVICES;

const resourcesSchema = z
  .object(
    Object.fromEntries(Object.entries(SIZED_SERVICES).map(([k, v]) => [k, memory.default(v)])) as {
      [K in SizedService]: z.ZodDefault<typeof memory>;
    },
  )
  .prefault({})
  .describe('Memory limit per service');

const replicas = (what: string) => z.number().int().min(1).max(64).default(1).describe(what);

export const IDENTITY_PROVIDERS = ['keycloak', 'shenma'] as const;
export type IdentityProvider = (typeof IDENTITY_PROVIDERS)[number];

export const deploySchema = z
  .object({
    identity: z
      .enum(IDENTITY_PROVIDERS)
      .default('keycloak')
      .describe('keycloak: Keycloak serves /realms/<realm> | shenma: the embedded provider as a service'),
    project: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, _ and -')
      .default('shenma')
      .describe('Compose project name (prefix of containers, volumes and the network)'),
    images: imagesSchema,
    ports: z
      .object({
        http: port.default(9080).describe('Entry port (APISIX), published on publishAddress'),
        https: port.default(9443).describe('TLS entry port, published when tls.cert is set'),
        grafana: port.default(3000).describe('Grafana, published on consoleAddress'),
        kibana: port.default(5601).describe('Kibana, published on consoleAddress'),
        keycloak: port
          .default(8081)
          .describe("Keycloak's admin console (identity: keycloak), published on consoleAddress"),
      })
      .prefault({}),
    publishAddress: hostAddress.default('0.0.0.0').describe('Where the entry port listens on the host'),
    consoleAddress: hostAddress
      .default('127.0.0.1')
      .describe(
        "Where Grafana, Kibana and Keycloak's admin console listen on the host (reach them through an SSH tunnel)",
      ),
    tls: z
      .object({
        cert: z.string().min(1).describe('PEM certificate chain file for the https entry port'),
        key: z.string().min(1).describe('PEM private key file'),
      })
      .optional()
      .describe('Terminate TLS in APISIX on ports.https'),
    replicas: z
      .object({
        completion: replicas('Completion service replicas'),
        chat: replicas('Chat service replicas'),
        identity: replicas('Identity service replicas (identity: shenma)'),
        login: replicas('Trampoline + captcha service replicas'),
      })
      .prefault({}),
    resources: resourcesSchema,
    ops: z
      .object({
        prometheus: z.boolean().default(true).describe('Prometheus (metrics and alert rules)'),
        grafana: z.boolean().default(true).describe('Grafana with the Shenma dashboard (needs prometheus)'),
        elasticsearch: z.boolean().default(true).describe('Elasticsearch for usage events'),
        kibana: z.boolean().default(true).describe('Kibana with a data view on usage events'),
      })
      .prefault({}),
    rateLimit: z
      .object({
        count: z.number().int().positive().default(600).describe('Requests per credential per window'),
        windowSeconds: z.number().int().positive().default(60),
      })
      .prefault({})
      .describe('Gateway limit-count on user routes, keyed by the credential'),
    localModels: z
      .object({
        enabled: z.boolean().default(false).describe('Run vLLM services for the models below'),
        gpus: z
          .union([z.literal('all'), z.number().int().positive(), z.array(z.string().min(1)).min(1)])
          .default('all')
          .describe('GPUs reserved per vLLM service: all, a count, or device ids'),
        completion: z
          .string()
          .min(1)
          .default('Qwen/Qwen2.5-Coder-1.5B')
          .describe('Model served for completion (hub id or a directory in the model volume)'),
        chat: z.string().min(1).default('Qwen/Qwen2.5-Coder-7B-Instruct').describe('Model served for chat'),
        pull: z
          .object({
            from: z
              .string()
              .min(1)
              .default('hub')
              .describe(
                'Where `shenma up` fetches missing weights: hub (by model id), a mirror base URL (URL/MODEL/ with shenma-manifest.json), or a directory (DIR/MODEL/) or .tar/.tgz on this host',
              ),
            endpoint: z
              .string()
              .regex(/^https?:\/\/\S+$/, 'an http(s) URL')
              .default('https://huggingface.co')
              .describe('Hugging Face-compatible hub for from: hub (a mirror serving the same API works)'),
            revision: z.string().min(1).default('main').describe('Hub branch, tag or commit'),
            token: z
              .string()
              .optional()
              .describe('Hub access token for gated models, as an ${ENV} reference such as ${HF_TOKEN}'),
          })
          .prefault({})
          .describe('Where the weights come from when the models volume lacks them'),
      })
      .prefault({}),
  })
  .prefault({})
  .superRefine((d, ctx) => {
    if (d.ops.grafana && !d.ops.prometheus) {
      ctx.addIssue({ code: 'custom', path: ['ops', 'grafana'], message: 'Grafana needs ops.prometheus' });
    }
    if (d.ops.kibana && !d.ops.elasticsearch) {
      ctx.addIssue({ code: 'custom', path: ['ops', 'kibana'], message: 'Kibana needs ops.elasticsearch' });
    }
    if (d.ports.http === d.ports.https) {
      ctx.addIssue({ code: 'custom', path: ['ports', 'https'], message: 'must differ from ports.http' });
    }
  })
  .describe('The docker compose deployment (`shenma init`, `render`, `up`)');
export type DeployConfig = z.infer<typeof deploySchema>;
