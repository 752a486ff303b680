import type { Generated, JSONColumnType } from 'kysely';

/**
 * The row types of every table, as the migrations create them; queries are typed by `Tables`.
 */

/** The `completion_feedback` table: one row per completion point the IDE reported on. */
export interface CompletionFeedbackTable {
  /** The client's completion point id, e.g. "7-3fa85f6457174562". */
  id: string;
  user_name: string | null;
  language: string;
  /** 'accepted' | 'rejected' | 'canceled' | 'none' as sent; not constrained, so a newer client is not refused. */
  acception: string;
  /** 'unchanged' | 'changed' | 'none' as sent. */
  correction: string;
  actual_code: string | null;
  create_time: Date | null;
  start_time: Date | null;
  end_time: Date | null;
  handle_time: Date | null;
  /** Milliseconds the completion request took, as measured by the client. */
  expend_time: number | null;
  received_at: Generated<Date>;
  /** Set when a re-sent item upgraded a 'none' acception or correction to a final one. */
  updated_at: Date | null;
}

/** The `client_error_report` table: the extension's error counters, stored as sent. */
export interface ClientErrorReportTable {
  /** bigserial; int8 is read as a string by both drivers (see `openDatabase`). */
  id: Generated<string>;
  user_name: string | null;
  body: JSONColumnType<Record<string, unknown>>;
  received_at: Generated<Date>;
}

export interface UsersTable {
  id: string;
  name: string;
  /** scrypt hash in the form `scrypt$N$r$p$salt$hash` (base64url); null for users who cannot log in with a password. */
  password_hash: string | null;
  email: string | null;
  disabled: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface ApiTokensTable {
  id: string;
  user_id: string;
  name: string;
  token_hash: string;
  created_at: Generated<Date>;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

/** Storage of the embedded OpenID provider (oidc-provider adapter models, one row per object). */
export interface OidcStoreTable {
  kind: string;
  id: string;
  payload: JSONColumnType<Record<string, unknown>>;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: Date | null;
  consumed_at: Date | null;
}

/** The `conversations` table: server-side chat history, keyed by (user, the client's conversation id). */
export interface ConversationsTable {
  id: string;
  user_id: string;
  client_conversation_id: string;
  title: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

/** The `chat_messages` table: the turns of one conversation, in insertion (id) order. */
export interface ChatMessagesTable {
  /** bigserial, read as a string. */
  id: Generated<string>;
  conversation_id: string;
  role: string;
  content: string;
  /** Estimated when stored; history trimming re-estimates with the current chars-per-token. */
  tokens: number;
  created_at: Generated<Date>;
}

/**
 * The `usage_ledger` table: one row per chat or completion request, keyed on `entry_id`, which
 * Shenma makes; `request_id` is the request's id as the client or the server named it, not unique.
 */
export interface UsageLedgerTable {
  id: Generated<string>;
  /** A UUID made by the server for this row. */
  entry_id: string;
  request_id: string;
  user_id: string;
  user_name: string;
  model: string;
  route: 'completion' | 'openai' | 'socket' | 'responses' | 'anthropic';
  prompt_tokens: number;
  completion_tokens: number;
  estimated: boolean;
  first_token_ms: number | null;
  total_ms: number;
  status: string;
  error: string | null;
  created_at: Generated<Date>;
}

/** The `chat_feedback` table: the chat webview's thumbs, code-use reports and issue reports, as sent. */
export interface ChatFeedbackTable {
  id: Generated<string>;
  kind: 'evaluate' | 'use_code' | 'issue';
  user_name: string | null;
  conversation_id: string | null;
  body: JSONColumnType<Record<string, unknown>>;
  received_at: Generated<Date>;
}

/** The `shenma_readiness` table: one row /readyz rewrites to prove the database takes writes. */
export interface ReadinessProbeTable {
  id: number;
  checked_at: Date;
}

/** Every table the application reads or writes, keyed by its SQL name. */
export interface Tables {
  completion_feedback: CompletionFeedbackTable;
  client_error_report: ClientErrorReportTable;
  users: UsersTable;
  api_tokens: ApiTokensTable;
  oidc_store: OidcStoreTable;
  conversations: ConversationsTable;
  chat_messages: ChatMessagesTable;
  usage_ledger: UsageLedgerTable;
  shenma_readiness: ReadinessProbeTable;
  chat_feedback: ChatFeedbackTable;
}
