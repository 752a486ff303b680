import type { ErrorType } from '../http/errors.js';
import { ModelUnavailableError, OverloadedError, UpstreamError } from '../models/index.js';
import type { ChatStatus } from './types.js';

/**
 * Why a chat answer did not complete, and how each cause is told to the client (HTTP status and
 * OpenAI error type) and to the ledger (ChatStatus).
 */

/** No answer chunk (content, tool call or finish) within `chat.timeouts.firstTokenMs` of an attempt. */
export class FirstTokenTimeout extends Error {
  override readonly name = 'FirstTokenTimeout';
}
/** The upstream went silent for `chat.timeouts.idleMs` after the answer started. */
export class IdleTimeout extends Error {
  override readonly name = 'IdleTimeout';
}
/** The whole answer took longer than `chat.timeouts.totalMs`. */
export class TotalTimeout extends Error {
  override readonly name = 'TotalTimeout';
}
export class ClientCancelled extends Error {
  override readonly name = 'ClientCancelled';
  constructor() {
    super('the client closed the connection');
  }
}

/**
 * A chat answer that failed. `started` says whether answer chunks were already yielded: before,
 * the client can still get a plain HTTP error; after, only an in-stream error event.
 */
export class ChatStreamError extends Error {
  override readonly name = 'ChatStreamError';
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    message: string,
    readonly started: boolean,
    /** Seconds, for Retry-After on 429/503. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** Label for `shenma_chat_upstream_errors_total`, or undefined for causes that are not the upstream's. */
export function upstreamErrorKind(err: unknown): string | undefined {
  if (err instanceof UpstreamError) return err.kind;
  if (err instanceof FirstTokenTimeout) return 'first_token_timeout';
  if (err instanceof IdleTimeout) return 'idle_timeout';
  if (err instanceof TotalTimeout) return 'total_timeout';
  if (err instanceof OverloadedError) return 'overloaded';
  if (err instanceof ModelUnavailableError) return 'unavailable';
  return undefined;
}

/**
 * Worth another replica or the fallback model, provided nothing was yielded yet: the replica is
 * down, busy or broken (429, 408, 5xx, a stream that broke before its first token) or too slow.
 * Other 4xx answers would fail the same way anywhere.
 */
export function retryable(err: unknown): boolean {
  if (err instanceof FirstTokenTimeout) return true;
  if (err instanceof OverloadedError || err instanceof ModelUnavailableError) return true;
  if (!(err instanceof UpstreamError)) return false;
  if (err.kind === 'unreachable' || err.kind === 'reset') return true;
  if (err.kind === 'status') {
    const s = err.status ?? 0;
    return s === 408 || s === 429 || s >= 500;
  }
  return false;
}

export interface Failure {
  status: ChatStatus;
  error: ChatStreamError;
}

/**
 * An upstream 4xx the client can act on. 401, 403, 404 and 407 mean Shenma's own apiKey, model
 * name or URL for that backend is wrong: passed on, a 401 would tell the IDE its login is bad.
 * 408 (after the retries) is a timeout, not a bad request.
 */
function clientsToFix(status: number): boolean {
  return status >= 400 && status < 500 && ![401, 403, 404, 407, 408].includes(status);
}

/** Maps the cause of a failed answer to what the ledger and the client are told. */
export function describeFailure(err: unknown, model: string, started: boolean): Failure {
  const fail = (status: ChatStatus, http: number, type: ErrorType, message: string, retryAfter?: number) => ({
    status,
    error: new ChatStreamError(http, type, message, started, retryAfter),
  });
  if (err instanceof ClientCancelled)
    return fail('client_cancelled', 499, 'invalid_request_error', err.message);
  if (err instanceof FirstTokenTimeout || err instanceof IdleTimeout || err instanceof TotalTimeout) {
    return fail('timeout', 504, 'timeout_error', `model "${model}": ${err.message}`);
  }
  if (err instanceof OverloadedError) {
    return fail('upstream_error', 429, 'overloaded_error', err.message, err.retryAfter);
  }
  if (err instanceof ModelUnavailableError)
    return fail('upstream_error', 503, 'model_unavailable', err.message, 5);
  if (err instanceof UpstreamError) {
    if (started) {
      return fail(
        'upstream_cut',
        502,
        'upstream_error',
        `model "${model}" broke off the answer: ${err.message}`,
      );
    }
    if (err.kind === 'unreachable') {
      return fail(
        'upstream_error',
        503,
        'model_unavailable',
        `model "${model}" is unreachable: ${err.message}`,
        5,
      );
    }
    if (err.kind === 'status' && err.status === 429) {
      return fail(
        'upstream_error',
        429,
        'overloaded_error',
        `model "${model}" is overloaded: ${err.message}`,
        err.retryAfter ?? 1,
      );
    }
    if (err.kind === 'status' && err.status === 503) {
      return fail(
        'upstream_error',
        503,
        'model_unavailable',
        `model "${model}" is unavailable: ${err.message}`,
        err.retryAfter ?? 5,
      );
    }
    if (err.kind === 'status' && err.status !== undefined && clientsToFix(err.status)) {
      // The request itself was refused (context too long, bad tool schema): the client must change
      // it, so this is the one case where the backend's own words are passed on.
      return fail(
        'upstream_error',
        err.status,
        'invalid_request_error',
        `model "${model}" refused the request (${err.status})${err.detail ? `: ${err.detail}` : ''}`,
      );
    }
    return fail('upstream_error', 502, 'upstream_error', `model "${model}" failed: ${err.message}`);
  }
  return fail('upstream_error', 500, 'server_error', 'internal error; see the server log');
}
