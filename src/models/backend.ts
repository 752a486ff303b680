/**
 * The model-backend interface. Completion and chat reach it only through the resilient call
 * (resilient-call.ts); each backend kind (OpenAI-compatible, Ollama, llama.cpp) implements it in
 * its own file.
 */

export interface FimRequest {
  /** Model id sent upstream. */
  model: string;
  /** Prompt text; already templated when the model uses `fim: template`. */
  prompt: string;
  /** `prompt` in pieces (template tags, user text), when the caller has them: encoded piece by piece. */
  promptParts?: readonly string[];
  /** Text after the cursor, only when the model uses `fim: suffix`. */
  suffix?: string;
  maxTokens: number;
  temperature: number;
  stop: string[];
}

/** One streamed upstream chat event: the `data:` payload as received, and parsed. */
export interface ChatChunk {
  /** The JSON text exactly as the upstream sent it (forwarded as is when nothing is rewritten). */
  raw: string;
  json: ChatChunkJson;
}

export interface ChatChunkJson {
  id?: string;
  object?: string;
  created?: number;
  model?: string;
  choices?: {
    index?: number;
    delta?: { role?: string; content?: string | null; [field: string]: unknown };
    finish_reason?: string | null;
    [field: string]: unknown;
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } | null;
  error?: unknown;
  [field: string]: unknown;
}

export type UpstreamErrorKind =
  | 'unreachable' // connection refused, DNS, TLS: the replica is down
  | 'status' // the backend answered with an HTTP error
  | 'protocol' // the backend answered something we cannot parse
  | 'reset'; // the stream broke after it started

/**
 * `message` is what clients may be told (what happened, the status); `detail` is what the backend
 * itself said, which goes to the log only: upstream bodies can carry stack traces, internal
 * addresses or configuration that clients must not see.
 */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  constructor(
    readonly kind: UpstreamErrorKind,
    message: string,
    readonly status?: number,
    /** Seconds, from the backend's Retry-After, when it sent one. */
    readonly retryAfter?: number,
    /** The backend's own error text (capped, request quotes withheld), for the log. */
    readonly detail?: string,
  ) {
    super(message);
  }

  /**
   * Worth another replica or model, provided nothing was passed on yet: the replica is down,
   * busy or broken (429, 408, 5xx, a stream that broke). Other 4xx answers and unparseable
   * output would fail the same way anywhere.
   */
  get retryable(): boolean {
    if (this.kind === 'unreachable' || this.kind === 'reset') return true;
    if (this.kind === 'status') {
      const s = this.status ?? 0;
      return s === 408 || s === 429 || s >= 500;
    }
    return false;
  }
}

export interface ModelBackend {
  /**
   * Streams generated text pieces as they arrive (UTF-8 decoded across chunk boundaries, so no
   * piece ends inside a character). Aborting `signal` must close the upstream request at once.
   * Throws UpstreamError for backend failures; an aborted call throws the signal's reason.
   */
  streamFim(req: FimRequest, signal: AbortSignal): AsyncIterable<string>;
  /**
   * Streams an OpenAI chat completion: posts `body` (its `model` already the upstream id) with
   * `stream: true` and `stream_options.include_usage: true` forced, and yields every `data:` event
   * until `[DONE]`, in batches: the events that arrived together (one network read) in one
   * non-empty array, so the chat path can pass them on with one write. A stream that ends without
   * `[DONE]` and without any `finish_reason` throws UpstreamError `reset`. Errors, abort and
   * closing on break as for streamFim.
   */
  streamChat(body: Record<string, unknown>, signal: AbortSignal): AsyncIterable<ChatChunk[]>;
  /** Resolves when the backend answers a cheap request; throws UpstreamError otherwise. */
  probe(signal: AbortSignal): Promise<void>;
  /** Releases connection pools. */
  close(): Promise<void>;
}

export interface BackendOptions {
  /** Base URL as configured (e.g. http://127.0.0.1:8000/v1 or http://127.0.0.1:11434). */
  url: string;
  apiKey?: string;
  /** openai kind only: `responses` when the server's chat API is the OpenAI Responses API. */
  chatApi?: 'chat' | 'responses';
}
