/**
 * The route table: which paths go to which role, with which auth and limits. It is the single
 * place a reader follows to find where a request goes. The embedded gateway mounts it inside
 * `shenma start`; the APISIX renderer (deployed shape) turns the same entries into routes.
 */

export type Role = 'completion' | 'chat' | 'ops';
export type HttpMethod = 'GET' | 'POST' | 'OPTIONS';
export type RouteAuth =
  /** No credentials: health, metrics, the login pages. */
  | 'none'
  /** A user credential (Bearer JWT, API token or the `api-key` header). */
  | 'user';

export interface RouteSpec {
  /** Stable id; a role's plugin provides a handler under this id. */
  id: string;
  role: Role;
  methods: readonly HttpMethod[];
  /** Paths as the clients send them (the real extension's paths are fixed, see client-contract). */
  paths: readonly string[];
  auth: RouteAuth;
  /** Browser callers (the extension's webview) need CORS preflight answered. */
  cors?: boolean;
  summary: string;
}

export const ROUTES: readonly RouteSpec[] = [
  // Completion role
  {
    id: 'completion.v2',
    role: 'completion',
    methods: ['POST'],
    paths: ['/v2/completions'],
    auth: 'user',
    summary: 'Zhuge Shenma extension 1.2.x completion (prompt_options, calculate_hide_score)',
  },
  {
    id: 'completion.openai',
    role: 'completion',
    methods: ['POST'],
    paths: ['/v1/completions'],
    auth: 'user',
    summary: 'OpenAI-compatible completion with suffix (Continue, curl, ...)',
  },
  {
    id: 'completion.codeCompletion',
    role: 'completion',
    methods: ['POST'],
    paths: ['/code-completion/api/v1/completions'],
    auth: 'user',
    summary: 'Later client completion (client_id, parent_id, trigger_mode, import_content)',
  },
  {
    id: 'completion.feedback',
    role: 'completion',
    methods: ['POST'],
    paths: ['/api/feedbacks/completions'],
    auth: 'user',
    cors: true,
    summary: 'Batched accept/reject telemetry from the extension, de-duplicated by id',
  },
  {
    id: 'completion.errorReport',
    role: 'completion',
    methods: ['POST'],
    paths: ['/api/feedbacks/error'],
    auth: 'user',
    cors: true,
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
];

export function routesForRole(role: Role): RouteSpec[] {
  return ROUTES.filter((r) => r.role === role);
}
