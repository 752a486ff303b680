import { z } from 'zod';
import { deploySchema } from './deploy.js';

/**
 * The one config schema. It drives validation (with path-named errors), defaults, the
 * commented `shenma.yaml` written on first start and the docs. Every key has a `describe()`
 * text because the generated file and docs read it.
 */

export const FIM_FAMILIES = [
  'deepseek-coder',
  'qwen2.5-coder',
  'starcoder',
  'starcoder2',
  'codeqwen',
  'stable-code',
  'codellama',
  'codegemma',
  'codestral',
] as const;
export type FimFamily = (typeof FIM_FAMILIES)[number];

export const MODEL_KINDS = ['openai', 'ollama', 'llamacpp'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

const durationMs = (what: string) => z.number().int().positive().describe(what);

/**
 * Requests in flight per replica when `maxConcurrency` is not set: about what each kind of
 * server runs at once by default, so Shenma neither queues requests the server could batch nor
 * hides a queue inside it. An explicit `maxConcurrency` always wins.
 * - openai (vLLM, TGI, hosted APIs): vLLM's OpenAI server schedules up to `max_num_seqs` = 256
 *   sequences per step (1024 on GPUs of 70 GiB and more; vllm/engine/arg_utils.py
 *   `get_batch_defaults`); TGI admits `--max-concurrent-requests` = 128 and answers 429 beyond,
 *   which the adaptive limit backs off from.
 * - ollama: `OLLAMA_NUM_PARALLEL` defaults to 1 (envconfig/config.go; releases of 2024
 *   auto-selected 4 or 1 by free memory) and Ollama queues the rest itself. 4 serves a server
 *   tuned to 4 fully; against one that runs 1, three wait inside Ollama instead of in Shenma,
 *   which costs no time (a limit of 1 against a server of 4 would), and `adaptiveConcurrency`
 *   brings the limit down to what the server runs.
 * - llamacpp: llama-server's `--parallel` defaults to auto, which opens 4 slots
 *   (ggml-org/llama.cpp#17300, #17997); builds before late 2025 opened 1.
 */
export const DEFAULT_MAX_CONCURRENCY: Readonly<Record<ModelKind, number>> = {
  openai: 256,
  ollama: 4,
  llamacpp: 4,
};

/** The ceiling of a replica's concurrency limit: its `maxConcurrency`, else its kind's default. */
export function maxConcurrencyOf(m: { kind: ModelKind; maxConcurrency?: number | undefined }): number {
  return m.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY[m.kind];
}

export const modelSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .describe('What clients and routing refer to. Entries sharing a name are replicas.'),
    kind: z.enum(MODEL_KINDS).default('openai').describe('Backend API: openai | ollama | llamacpp'),
    url: z
      .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
      .describe(
        'Base URL of the backend, e.g. http://127.0.0.1:8000/v1 (openai) or http://127.0.0.1:11434 (ollama)',
      ),
    apiKey: z
      .string()
      .optional()
      .describe('Sent as a Bearer token; use ${ENV_VAR} to keep it out of the file'),
    model: z.string().optional().describe('Model id sent upstream; defaults to `name`'),
    family: z
      .enum(FIM_FAMILIES)
      .optional()
      .describe(`FIM template family (${FIM_FAMILIES.join(', ')})`),
    template: z
      .string()
      .optional()
      .describe('Custom FIM template with {prefix} and {suffix} placeholders; overrides `family`'),
    fim: z
      .enum(['template', 'suffix'])
      .default('template')
      .describe(
        'template: Shenma builds the FIM prompt; suffix: send prompt + suffix and let the backend do it',
      ),
    chatApi: z
      .enum(['chat', 'responses'])
      .default('chat')
      .describe(
        'openai kind: the API chat is asked in. chat: Chat Completions (vLLM, Ollama, llama.cpp); responses: the server speaks the OpenAI Responses API (requests to /v1/responses pass through)',
      ),
    stop: z.array(z.string()).default([]).describe('Extra stop strings for this model'),
    roles: z
      .array(z.enum(['completion', 'chat']))
      .default(['completion'])
      .describe('What this model serves'),
    maxConcurrency: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        `Most requests in flight to this replica; default by kind: ${Object.entries(DEFAULT_MAX_CONCURRENCY)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')}`,
      ),
    minConcurrency: z.number().int().positive().default(1).describe('Lowest the adaptive limit goes'),
    adaptiveConcurrency: z
      .boolean()
      .default(false)
      .describe(
        'Move the limit between minConcurrency and maxConcurrency: grow while time to first token holds, shrink when it rises (a first-token timeout counts as that late) or on 429/503/504. Off: the limit is maxConcurrency',
      ),
    maxQueue: z
      .number()
      .int()
      .nonnegative()
      .default(16)
      .describe('Requests allowed to wait for a slot; more are answered 429 at once'),
    contextWindow: z.number().int().min(256).default(8192).describe('Model context window in tokens'),
    charsPerToken: z
      .number()
      .positive()
      .default(3)
      .describe('Characters per token used to estimate prompt size (lower is safer)'),
    healthCheckIntervalMs: durationMs('How often an unhealthy replica is probed').default(10_000),
  })
  .superRefine((m, ctx) => {
    if (m.roles.includes('completion') && m.fim === 'template' && !m.family && !m.template) {
      ctx.addIssue({
        code: 'custom',
        path: ['family'],
        message: 'a completion model with `fim: template` needs `family` or `template` (never guessed)',
      });
    }
    if (m.chatApi === 'responses' && m.kind !== 'openai') {
      ctx.addIssue({ code: 'custom', path: ['chatApi'], message: 'responses needs kind: openai' });
    }
    if (m.template !== undefined && (!m.template.includes('{prefix}') || !m.template.includes('{suffix}'))) {
      ctx.addIssue({ code: 'custom', path: ['template'], message: 'must contain {prefix} and {suffix}' });
    }
    const max = maxConcurrencyOf(m);
    if (m.minConcurrency > max) {
      ctx.addIssue({
        code: 'custom',
        path: ['minConcurrency'],
        message: `must not exceed maxConcurrency (${max}${m.maxConcurrency === undefined ? `, the default for kind ${m.kind}` : ''})`,
      });
    }
  });
export type ModelConfig = z.infer<typeof modelSchema>;

export const REJECT_RULES = ['afterStatementEnd', 'insideWord', 'emptyDocument'] as const;
export type RejectRuleName = (typeof REJECT_RULES)[number];

export const FILTER_NAMES = [
  'specialTokens',
  'repeatedPrefix',
  'repetitiveLines',
  'suffixOverlap',
  'duplicatedClosingLine',
  'scopeLimit',
  'closersAfterCursor',
  'trailingWhitespace',
  'blankResult',
] as const;
export type FilterName = (typeof FILTER_NAMES)[number];

export const completionSchema = z
  .object({
    model: z
      .string()
      .optional()
      .describe('Default model for completion; defaults to the first completion model'),
    fallbackModel: z.string().optional().describe('Model tried when the default times out or is overloaded'),
    maxTokens: z.number().int().positive().default(256).describe('Upper bound on generated tokens'),
    temperature: z.number().min(0).max(2).default(0.1),
    suffixShare: z
      .number()
      .min(0)
      .max(0.9)
      .default(0.25)
      .describe('Share of the prompt budget kept for the text after the cursor'),
    contextShare: z
      .number()
      .min(0)
      .max(0.9)
      .default(0.25)
      .describe('Share of the prompt budget that client-sent snippets may use'),
    multiline: z
      .enum(['auto', 'always', 'never'])
      .default('auto')
      .describe('auto decides per request; always/never force it'),
    timeouts: z
      .object({
        queueMs: durationMs('Longest wait for a model slot before 429').default(500),
        firstTokenMs: durationMs('Longest wait for the first token before 504 (or fallback)').default(2000),
        totalMs: durationMs('Whole request budget').default(5000),
      })
      .prefault({}),
    rules: z
      .object(
        Object.fromEntries(REJECT_RULES.map((r) => [r, z.boolean().default(true)])) as {
          [K in RejectRuleName]: z.ZodDefault<z.ZodBoolean>;
        },
      )
      .prefault({})
      .describe('"Do not complete here" rules, each switchable'),
    filters: z
      .object(
        Object.fromEntries(FILTER_NAMES.map((f) => [f, z.boolean().default(true)])) as {
          [K in FilterName]: z.ZodDefault<z.ZodBoolean>;
        },
      )
      .prefault({})
      .describe('Post-processing filters, each switchable'),
    cache: z
      .object({
        maxEntries: z.number().int().nonnegative().default(5000).describe('0 turns the cache off'),
        ttlMs: durationMs('How long an answer is reused').default(5 * 60_000),
      })
      .prefault({}),
    languageMap: z
      .array(z.object({ language: z.string(), file_extensions: z.array(z.string()) }))
      .default([])
      .describe('Served to the extension at /api/configuration (empty keeps its built-in table)'),
  })
  .prefault({});
export type CompletionConfig = z.infer<typeof completionSchema>;

const quotaLimits = z.object({
  requestsPerDay: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('Chat requests per UTC day; unset = unlimited'),
  tokensPerDay: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('Prompt + completion tokens per UTC day; unset = unlimited'),
});

export const chatSchema = z
  .object({
    model: z.string().optional().describe('Default chat model; defaults to the first model with role chat'),
    fallbackModel: z.string().optional().describe('Tried when the default fails before the first token'),
    agentName: z.string().default('诸葛神码').describe('Speaker name the extension shows'),
    systemPrompt: z
      .string()
      .optional()
      .describe('System prompt for free-form chat (a built-in one otherwise)'),
    historyTokens: z
      .number()
      .int()
      .positive()
      .default(6000)
      .describe('Budget for server-side conversation history sent upstream'),
    charsPerToken: z.number().positive().default(3).describe('Characters per token for estimates'),
    maxRetries: z
      .number()
      .int()
      .min(0)
      .max(5)
      .default(1)
      .describe('Retries on another replica before the first byte'),
    timeouts: z
      .object({
        firstTokenMs: durationMs('Longest wait for the first token').default(60_000),
        idleMs: durationMs('Longest silence between tokens once streaming').default(60_000),
        totalMs: durationMs('Whole answer budget').default(600_000),
      })
      .prefault({}),
    keepAliveMs: durationMs('SSE comment / socket keep-alive while waiting for the first token').default(
      10_000,
    ),
    advise: z.boolean().default(false).describe('Send agent_advise follow-up suggestions to the extension'),
    extensionLatestVersion: z
      .string()
      .regex(/^\d+\.\d+\.\d+$/, 'a version like 1.2.1')
      .optional()
      .describe(
        'Extension version the IDE is told is latest; unset = the version it runs (no update prompt)',
      ),
    resumeTtlMs: durationMs('How long a socket answer can be resumed with rechat').default(3_600_000),
    contentFilter: z
      .object({
        words: z
          .array(z.string().min(1))
          .default([])
          .describe('Words refused in questions and masked in answers'),
        mask: z.string().default('***'),
      })
      .prefault({}),
  })
  .prefault({});
export type ChatConfig = z.infer<typeof chatSchema>;

export const quotasSchema = z
  .object({
    default: quotaLimits.prefault({}).describe('Limits for every user'),
    users: z.record(z.string(), quotaLimits).default({}).describe('Per-user limits, by user name'),
    groups: z
      .record(z.string(), quotaLimits.extend({ members: z.array(z.string()).default([]) }))
      .default({})
      .describe('Limits shared by named groups of users'),
  })
  .prefault({});
export type QuotasConfig = z.infer<typeof quotasSchema>;

/**
 * The Zhuge Shenma extension has this client secret built in and cannot send another
 * (docs/protocol.md §1), so the embedded provider accepts it by default. It is public: the
 * server warns at start, and a deployment that only serves other clients should change it.
 */
export const EXTENSION_CLIENT_SECRET = 'jFWyVy9wUKKSkX55TDBt2SuQWl7fDM1l';

export const identitySchema = z
  .object({
    realm: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only')
      .default('gw')
      .describe('Realm in /realms/<realm>/...; the extension uses gw'),
    issuer: z
      .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
      .optional()
      .describe(
        'External OpenID issuer (e.g. https://sso.example.com/realms/gw); unset = the embedded provider',
      ),
    audiences: z
      .array(z.string())
      .default([])
      .describe('Accepted aud/azp of external tokens; default: clientId'),
    clientId: z.string().min(1).default('vscode').describe('The IDE client id'),
    clientSecret: z
      .string()
      .min(8)
      .default(EXTENSION_CLIENT_SECRET)
      .describe("The IDE client's secret; defaults to the one built into the extension (public!)"),
    accessTokenTtlSeconds: z
      .number()
      .int()
      .min(301, 'must stay over 300 s: the extension refreshes 5 minutes before expiry')
      .default(86_400)
      .describe('Access token lifetime'),
    refreshTokenTtlSeconds: z
      .number()
      .int()
      .min(600)
      .default(30 * 86_400)
      .describe('Refresh token lifetime'),
    captcha: z
      .enum(['always', 'after-failures', 'off'])
      .default('after-failures')
      .describe('When the login page asks for a captcha'),
    trustedHeader: z
      .object({
        name: z.string().min(1).describe('Header carrying the user name, set by your gateway'),
        proxies: z
          .array(z.string().min(1))
          .min(1, 'list the gateway addresses allowed to set the header')
          .describe('Client addresses (IPs) whose header is trusted'),
      })
      .optional()
      .describe('Trust a gateway-provided identity header; off unless configured'),
  })
  .prefault({});
export type IdentityConfig = z.infer<typeof identitySchema>;

export const configSchema = z
  .object({
    publicUrl: z
      .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
      .optional()
      .describe(
        'What browsers and IDEs use; defaults to the listen address (the first non-loopback one for 0.0.0.0)',
      ),
    server: z
      .object({
        host: z
          .string()
          .default('127.0.0.1')
          .describe('Address to listen on; 0.0.0.0 for all (teammates on other machines)'),
        port: z.number().int().min(0).max(65535).default(9080),
        drainMs: durationMs(
          'On shutdown, how long chat answers in flight may finish before they are ended with an error',
        ).default(10_000),
        metricsToken: z
          .string()
          .min(16, 'use at least 16 characters')
          .optional()
          .describe(
            'Bearer token for /metrics and the /readyz details when the server listens beyond loopback ' +
              '(callers from loopback never need it); use ${ENV_VAR}',
          ),
      })
      .prefault({}),
    retention: z
      .object({
        feedbackDays: z
          .number()
          .int()
          .positive()
          .default(180)
          .describe(
            'Completion feedback, error counters, chat feedback and issue reports older than this are deleted',
          ),
        feedbackMaxRows: z
          .number()
          .int()
          .positive()
          .default(200_000)
          .describe('Most rows kept per feedback table; the oldest go first'),
      })
      .prefault({})
      .describe('How long client-written feedback is kept (pruned hourly, off the request path)'),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        logCode: z.boolean().default(false).describe('Log prompt and completion text (off: privacy)'),
      })
      .prefault({}),
    database: z
      .object({
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
          .optional()
          .describe('PostgreSQL URL; unset means the embedded PostgreSQL server in the data directory'),
      })
      .prefault({}),
    identity: identitySchema,
    redis: z
      .object({
        url: z
          .string()
          .regex(/^rediss?:\/\//, 'must be a redis:// URL')
          .optional()
          .describe('Redis for quotas and resumable chats across replicas; unset = in-process'),
        keyPrefix: z
          .string()
          .min(1)
          .default('shenma:')
          .describe('Prefix of the keys and channels Shenma uses in Redis (one per installation)'),
      })
      .prefault({}),
    elasticsearch: z
      .object({
        url: z
          .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
          .optional()
          .describe('Usage events also go here'),
        index: z.string().default('shenma-usage'),
        apiKey: z.string().optional().describe('Elasticsearch API key; use ${ENV_VAR}'),
        batchSize: z.number().int().positive().default(500),
        flushMs: durationMs('Longest time an event waits in the buffer').default(2000),
        maxBuffer: z
          .number()
          .int()
          .positive()
          .default(10_000)
          .describe('Events kept while Elasticsearch is slow; more are dropped and counted'),
      })
      .prefault({}),
    models: z.array(modelSchema).default([]),
    completion: completionSchema,
    chat: chatSchema,
    quotas: quotasSchema,
    deploy: deploySchema,
  })
  .superRefine(
    (cfg, ctx) => {
      // Runs even when other keys are invalid (see `when` below), so it reads defensively.
      const models: (ModelConfig | undefined)[] = Array.isArray(cfg.models) ? cfg.models : [];
      // A default or fallback naming a model that is missing, or that does not serve the role,
      // would only fail at the first request.
      for (const role of ['completion', 'chat'] as const) {
        for (const key of ['model', 'fallbackModel'] as const) {
          const v = cfg[role]?.[key];
          if (typeof v !== 'string') continue;
          const named = models.filter((m) => m?.name === v) as ModelConfig[];
          if (named.length === 0) {
            ctx.addIssue({ code: 'custom', path: [role, key], message: `no model named "${v}" in models` });
          } else if (!named.some((m) => Array.isArray(m.roles) && m.roles.includes(role))) {
            ctx.addIssue({
              code: 'custom',
              path: [role, key],
              message: `model "${v}" does not serve ${role} (add ${role} to its roles)`,
            });
          }
        }
      }
      // Replicas of one name must agree on what they are, or balancing between them changes answers.
      const byName = new Map<string, ModelConfig>();
      models.forEach((m, i) => {
        if (!m || typeof m !== 'object') return;
        const first = byName.get(m.name);
        if (!first) {
          byName.set(m.name, m);
          return;
        }
        for (const k of ['kind', 'family', 'template', 'fim', 'chatApi'] as const) {
          if (first[k] !== m[k]) {
            ctx.addIssue({
              code: 'custom',
              path: ['models', i, k],
              message: `replicas of "${m.name}" must share ${k}`,
            });
          }
        }
      });
      // Every problem in one report: cross-key checks run even when some key is invalid.
    },
    { when: () => true },
  );

export type ShenmaConfig = z.infer<typeof configSchema>;
export type ShenmaConfigInput = z.input<typeof configSchema>;
