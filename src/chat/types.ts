/**
 * Shapes shared by the chat role's parts: the OpenAI-compatible API, the extension's Socket.IO
 * protocol, the stores and the upstream streaming.
 */

/** An OpenAI chat message. Extra fields (name, tool_calls, ...) pass through untouched. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | 'developer';
  content: string | unknown[] | null;
  [field: string]: unknown;
}

/** Token counts of one answer; `estimated` when the upstream did not report usage. */
export interface ChatUsage {
  promptTokens: number;
  completionTokens: number;
  estimated: boolean;
}

/**
 * How a chat request ended, as recorded in the usage ledger and as the `status` label of
 * shenma_chat_requests_total. `shutdown`: cut by a server shutdown after the drain time (the
 * client got an error event).
 */
export const CHAT_STATUSES = [
  'ok',
  'client_cancelled',
  'shutdown',
  'upstream_error',
  'upstream_cut',
  'timeout',
  'rejected',
  'quota_exceeded',
] as const;
export type ChatStatus = (typeof CHAT_STATUSES)[number];

/**
 * The outcomes that are the model's failure: what the error-rate alert counts and the service
 * logs as a warning (a shutdown cut is the operator's doing, not a failure).
 */
export const CHAT_FAILURE_STATUSES: readonly ChatStatus[] = ['upstream_error', 'upstream_cut', 'timeout'];

/** What a chat request is, once parsed: by the OpenAI API or by the extension's Socket.IO chat. */
export interface ChatContext {
  requestId: string;
  user: { id: string; name: string };
  route: 'openai' | 'socket' | 'responses' | 'anthropic';
  /** The model name as configured (not the upstream id). */
  model: string;
  /** The client's conversation id when server-side history is used (the extension's chat). */
  conversationId?: string;
  /** Messages from the client (for the socket chat: the one new user turn, built from the action template). */
  messages: ChatMessage[];
}

/** How a chat request ended; the ledger row and the stored answer come from this. */
export interface ChatOutcome {
  status: ChatStatus;
  /** The model that answered (a fallback may differ from ChatContext.model). */
  model: string;
  answer: string;
  usage: ChatUsage;
  firstTokenMs?: number;
  totalMs: number;
  error?: string;
}

/**
 * The chat pipeline's extension points, so quotas, content filtering, history and the usage
 * ledger stay out of the streaming code and each lives in its own module.
 */
export interface ChatHooks {
  /**
   * Runs before the upstream call. Throws HttpError to refuse (quota spent → 429 with
   * Retry-After; a filtered word → 400). Returns the messages to send upstream (history prepended
   * within the budget for socket chats). `answerTokens`: the longest answer the client asked for
   * (max_tokens), which the quota holds back until the real usage is known.
   */
  prepare(ctx: ChatContext, request?: { answerTokens?: number }): Promise<ChatMessage[]>;
  /** Masks filtered words in the answer as it streams; holds back only what a match could still need. */
  createOutputFilter(ctx: ChatContext): OutputFilter;
  /**
   * Runs once the answer ended, whatever the outcome, BEFORE the client is told it finished,
   * so nothing the client saw as a success is missing from the ledger.
   */
  record(ctx: ChatContext, outcome: ChatOutcome): Promise<void>;
}

export interface OutputFilter {
  /** Returns the text that is safe to emit now. */
  push(text: string): string;
  /** Returns what was held back, at the end of the answer. */
  flush(): string;
}
