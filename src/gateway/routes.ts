/**
 * The route table: which paths go to which role, with which auth and limits. It is the single
 * place a reader follows to find where a request goes. The embedded gateway (mount.ts) mounts it
 * inside `shenma start`; a gateway configured for the deployed shape is meant to be derived from
 * the same entries rather than written by hand.
 */

import type { RouteHandler } from '../http/route-handler.js';

export type Role = 'completion' | 'chat' | 'identity' | 'trampoline' | 'kaptcha' | 'ops';
export type HttpMethod = 'GET' | 'POST' | 'OPTIONS';
export type RouteAuth =
  /** No credentials: health, metrics, the login pages. */
  | 'none'
  /** A user credential (Bearer JWT, API token or the `api-key` header). */
  | 'user';

/**
 * The largest request body a route accepts, enforced before the body is read (413 naming it).
 * `context`: sized to the largest context window among the models serving that role, since the
 * server only ever uses that much text; see `bodyLimitBytes`.
 */
export type BodyLimit = { bytes: number } | { context: 'completion' | 'chat' };

/** Requests per caller (the user when authenticated, else the address), checked before the body is read. */
export interface RateLimitSpec {
  /** Requests allowed at once. */
  burst: number;
  perMinute: number;
}

export interface RouteSpec {
  /** Stable id; a role's plugin provides a handler under this id. */
  id: string;
  role: Role;
  methods: readonly HttpMethod[];
  /** Paths as the clients send them (the real extension's paths are fixed, see docs/protocol.md). */
  paths: readonly string[];
  auth: RouteAuth;
  /** Browser callers (the extension's webview) need CORS preflight answered. */
  cors?: boolean;
  /** The handler reads the request stream itself (no body parsing), e.g. the OpenID provider. */
  raw?: boolean;
  /** Served by a WebSocket server attached to the HTTP server (Socket.IO), not by a route handler. */
  websocket?: boolean;
  /** Required on every route with a body (POST); GET bodies are never read. */
  bodyLimit?: BodyLimit;
  /**
   * Takes HTML form posts (application/x-www-form-urlencoded). Only these routes parse forms;
   * elsewhere a form is a 415, not a nonsense object failing validation with a misleading message
   * (a JSON body sent by `curl -d` without a content type).
   */
  forms?: boolean;
  rateLimit?: RateLimitSpec;
  /** Error bodies in another API's shape than OpenAI's (auth and body errors included). */
  errors?: 'anthropic';
  summary: string;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * A context-sized body still gets at least this much: the extension sends the whole document
 * (docs/protocol.md §4.2) and the server trims it to the window around the cursor.
 */
export const MIN_CONTEXT_BODY_BYTES = 1 * MiB;

/**
 * Bytes per character of context: the extension sends the document prefix twice
 * (`prompt_options.prefix` and `calculate_hide_score.prefix`), and UTF-8 with JSON escaping takes
 * up to 4 bytes for one character.
 */
const BYTES_PER_CONTEXT_CHAR = 8;

/** What `limit` allows, in bytes, for the configured models. */
export function bodyLimitBytes(
  limit: BodyLimit,
  models: readonly { roles: readonly string[]; contextWindow: number; charsPerToken: number }[],
): number {
  if ('bytes' in limit) return limit.bytes;
  const chars = Math.max(
    0,
    ...models.filter((m) => m.roles.includes(limit.context)).map((m) => m.contextWindow * m.charsPerToken),
  );
  return Math.max(MIN_CONTEXT_BODY_BYTES, Math.ceil(chars * BYTES_PER_CONTEXT_CHAR));
}

export const ROUTES = [
  // Completion role
  {
    id: 'completion.v2',
    role: 'completion',
    methods: ['POST'],
    paths: ['/v2/completions'],
    auth: 'user',
    bodyLimit: { context: 'completion' },
    summary:
      'Zhuge Shenma extension 1.2.x completion (prompt_options); calculate_hide_score is accepted and ignored: no score hides a suggestion',
  },
  {
    id: 'completion.openai',
    role: 'completion',
    methods: ['POST'],
    paths: ['/v1/completions'],
    auth: 'user',
    bodyLimit: { context: 'completion' },
    summary: 'OpenAI-compatible completion with suffix (Continue, curl, ...)',
  },
  {
    id: 'completion.codeCompletion',
    role: 'completion',
    methods: ['POST'],
    paths: ['/code-completion/api/v1/completions'],
    auth: 'user',
    bodyLimit: { context: 'completion' },
    summary: 'Later client completion (client_id, parent_id, trigger_mode, import_content)',
  },
  {
    id: 'completion.tabby',
    role: 'completion',
    methods: ['POST'],
    paths: ['/tabby/v1/completions'],
    auth: 'user',
    bodyLimit: { context: 'completion' },
    summary:
      "Tabby's completion API (language, segments); /v1/completions also takes it, told apart by shape",
  },
  {
    id: 'completion.tabbyHealth',
    role: 'completion',
    methods: ['GET', 'POST'],
    paths: ['/v1/health', '/tabby/v1/health'],
    auth: 'user',
    bodyLimit: { bytes: 16 * KiB },
    summary: "Tabby's health check (HealthState) that tabby-agent makes before completing",
  },
  {
    id: 'completion.tabbyServerSetting',
    role: 'completion',
    methods: ['GET'],
    paths: ['/v1beta/server_setting', '/tabby/v1beta/server_setting'],
    auth: 'user',
    summary: "Tabby's server settings (client-side telemetry allowed)",
  },
  {
    id: 'completion.tabbyEvents',
    role: 'completion',
    methods: ['POST'],
    paths: ['/v1/events', '/tabby/v1/events'],
    auth: 'user',
    bodyLimit: { bytes: 64 * KiB },
    summary: "Tabby's completion events (view, select, dismiss), stored as completion feedback",
  },
  {
    id: 'completion.feedback',
    role: 'completion',
    methods: ['POST'],
    paths: ['/api/feedbacks/completions'],
    auth: 'user',
    cors: true,
    // Up to a few hundred points with the code the user typed instead.
    bodyLimit: { bytes: 256 * KiB },
    summary: 'Batched accept/reject telemetry from the extension, de-duplicated by id',
  },
  {
    id: 'completion.errorReport',
    role: 'completion',
    methods: ['POST'],
    paths: ['/api/feedbacks/error'],
    auth: 'user',
    cors: true,
    bodyLimit: { bytes: 16 * KiB },
    // The extension sends one only when its error count changed.
    rateLimit: { burst: 10, perMinute: 10 },
    summary: 'Client error counters from the extension',
  },
  {
    id: 'completion.languageMap',
    role: 'completion',
    methods: ['GET'],
    paths: ['/api/configuration'],
    auth: 'user',
    cors: true,
    summary: 'Language map the extension loads at start and hourly',
  },
  // Chat role
  {
    id: 'chat.completions',
    role: 'chat',
    methods: ['POST'],
    paths: ['/v1/chat/completions', '/chat-rag/api/v1/chat/completions'],
    auth: 'user',
    cors: true,
    bodyLimit: { context: 'chat' },
    summary: 'OpenAI-compatible chat, SSE or JSON; unknown fields passed upstream',
  },
  {
    id: 'chat.responses',
    role: 'chat',
    methods: ['POST'],
    paths: ['/v1/responses'],
    auth: 'user',
    cors: true,
    bodyLimit: { context: 'chat' },
    summary: 'OpenAI Responses API (typed SSE events or JSON), translated to Chat Completions upstream',
  },
  {
    id: 'chat.anthropicMessages',
    role: 'chat',
    methods: ['POST'],
    paths: ['/v1/messages'],
    auth: 'user',
    errors: 'anthropic',
    bodyLimit: { context: 'chat' },
    summary: 'Anthropic Messages API (x-api-key, SSE message events or JSON) onto any chat model',
  },
  {
    id: 'chat.anthropicCountTokens',
    role: 'chat',
    methods: ['POST'],
    paths: ['/v1/messages/count_tokens'],
    auth: 'user',
    errors: 'anthropic',
    bodyLimit: { context: 'chat' },
    summary: "Anthropic's token count, answered with Shenma's prompt estimate",
  },
  {
    id: 'chat.models',
    role: 'chat',
    methods: ['GET'],
    paths: ['/v1/models', '/ai-gateway/api/v1/models'],
    auth: 'user',
    cors: true,
    summary: 'Models the caller may use',
  },
  {
    id: 'chat.socket',
    role: 'chat',
    methods: ['GET'],
    paths: ['/socket.io/*'],
    auth: 'none',
    websocket: true,
    summary: "The extension's chat: Socket.IO namespace /chat, credentials in the CONNECT auth",
  },
  {
    id: 'chat.feedback',
    role: 'chat',
    methods: ['POST'],
    paths: ['/api/feedbacks/evaluate', '/api/feedbacks/use_code'],
    auth: 'user',
    cors: true,
    bodyLimit: { bytes: 16 * KiB },
    summary: 'Thumbs up/down and code-use reports from the chat webview',
  },
  {
    id: 'chat.issue',
    role: 'chat',
    methods: ['POST'],
    paths: ['/api/feedbacks/issue'],
    // The feedback page posts without credentials (docs/protocol.md §6.3), hence the rate limit.
    auth: 'none',
    cors: true,
    // A 2 MiB screenshot as base64 plus the description.
    bodyLimit: { bytes: 3 * MiB },
    rateLimit: { burst: 5, perMinute: 5 },
    summary: 'Issue reports from the feedback page',
  },
  {
    id: 'chat.extensionVersion',
    role: 'chat',
    methods: ['GET'],
    paths: ['/vscode/ex-server-api/zgsm-ai/zgsm/latest'],
    auth: 'user',
    summary: "The extension's hourly update check (docs/protocol.md §6.2)",
  },
  // Identity role: the embedded OpenID provider under Keycloak's paths, its login page, and the
  // polling login handoff of the later client (docs/protocol.md §3, §7.2).
  {
    id: 'identity.oidc',
    role: 'identity',
    methods: ['GET', 'POST', 'OPTIONS'],
    paths: ['/realms/:realm/*'],
    auth: 'none',
    raw: true,
    // oidc-provider refuses more itself (raw-request MAX_BODY_BYTES); this refuses it unread.
    bodyLimit: { bytes: 56 * KiB },
    summary: 'OpenID provider: .well-known, protocol/openid-connect/{auth,token,logout,certs,userinfo}',
  },
  {
    id: 'identity.login',
    role: 'identity',
    methods: ['GET', 'POST'],
    forms: true,
    paths: ['/realms/:realm/login/:uid'],
    auth: 'none',
    bodyLimit: { bytes: 16 * KiB },
    summary: 'Login page (zh/en) with CSRF protection, captcha and backoff',
  },
  {
    id: 'identity.pluginLogin',
    role: 'identity',
    methods: ['GET'],
    paths: [
      '/oidc-auth/api/v1/plugin/login',
      '/oidc-auth/api/v1/plugin/login/callback',
      '/oidc-auth/api/v1/plugin/login/token',
      '/oidc-auth/api/v1/plugin/login/status',
      '/oidc-auth/api/v1/plugin/login/logout',
      '/oidc-auth/api/v1/plugin/logout',
    ],
    auth: 'none',
    summary: 'Polling login handoff for IDEs that cannot receive a vscode:// link',
  },
  {
    id: 'identity.pluginLoginConfirm',
    role: 'identity',
    methods: ['POST'],
    forms: true,
    paths: ['/oidc-auth/api/v1/plugin/login/confirm'],
    auth: 'none',
    // The confirm form: a CSRF token and a few ids.
    bodyLimit: { bytes: 16 * KiB },
    summary: 'The browser confirms (or refuses) a polling login: CSRF-protected form post',
  },
  // Trampoline role: hands the login result to the IDE.
  {
    id: 'trampoline.ok',
    role: 'trampoline',
    methods: ['GET'],
    paths: ['/login/ok'],
    auth: 'none',
    summary: 'Opens vscode://zgsm-ai.zgsm/callback?code&state&session_state once',
  },
  {
    id: 'trampoline.resources',
    role: 'trampoline',
    methods: ['GET'],
    paths: ['/login/resources/*'],
    auth: 'none',
    summary: 'Images of the trampoline page',
  },
  // Kaptcha role: captcha images for the login page.
  {
    id: 'kaptcha.issue',
    role: 'kaptcha',
    methods: ['GET'],
    paths: ['/captcha'],
    auth: 'none',
    summary: 'A new captcha {id, image}; answers are single-use and expire',
  },
  {
    id: 'kaptcha.legacy',
    role: 'kaptcha',
    methods: ['GET'],
    paths: ['/realms/:realm/captcha/code'],
    auth: 'none',
    summary: "The original's captcha path, in its shape {uuid, code}",
  },
  // Operations, served by every role
  { id: 'ops.healthz', role: 'ops', methods: ['GET'], paths: ['/healthz'], auth: 'none', summary: 'Alive' },
  {
    id: 'ops.readyz',
    role: 'ops',
    methods: ['GET'],
    paths: ['/readyz'],
    auth: 'none',
    summary: 'Dependencies (models, database) answer',
  },
  {
    id: 'ops.metrics',
    role: 'ops',
    methods: ['GET'],
    paths: ['/metrics'],
    auth: 'none',
    summary: 'Prometheus text format',
  },
] as const satisfies readonly RouteSpec[];

/** One entry of the table, with its literal id, role and flags. */
export type RouteEntry = (typeof ROUTES)[number];
export type RouteId = RouteEntry['id'];
/**
 * The ids a role must give a handler for: its entries, less those a WebSocket server answers.
 * Roles type their handlers by it, so an entry without a handler fails `tsc`, not start-up.
 */
export type HandledRouteId<R extends Role> = Exclude<
  Extract<RouteEntry, { role: R }>,
  { websocket: true }
>['id'];
/** Handlers for exactly the given route ids (a role's, or the part of it one module serves). */
export type RouteHandlers<Id extends RouteId> = { readonly [K in Id]: RouteHandler };
