import type { ErrorType } from '../http/errors.js';
import { upstreamHttpError } from '../http/upstream-error.js';
import { UpstreamError, UpstreamTimeout } from '../models/index.js';
import type { ChatStatus } from './types.js';

/**
 * Why a chat answer did not complete, and how each cause is told to the client (HTTP status and
 * OpenAI error type, decided in http/upstream-error.ts for model failures) and to the ledger
 * (ChatStatus).
 */

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

export interface Failure {
  status: ChatStatus;
  error: ChatStreamError;
}

/** Maps the cause of a failed answer to what the ledger and the client are told. */
export function describeFailure(err: unknown, model: string, started: boolean): Failure {
  if (err instanceof ClientCancelled) {
    return {
      status: 'client_cancelled',
      error: new ChatStreamError(499, 'invalid_request_error', err.message, started),
    };
  }
  const http = upstreamHttpError(err, { model, started, clientOwnsRequest: true });
  if (!http) {
    return {
      status: 'upstream_error',
      error: new ChatStreamError(500, 'server_error', 'internal error; see the server log', started),
    };
  }
  const status: ChatStatus =
    err instanceof UpstreamTimeout
      ? 'timeout'
      : err instanceof UpstreamError && started
        ? 'upstream_cut'
        : 'upstream_error';
  return {
    status,
    error: new ChatStreamError(http.status, http.type, http.message, started, http.retryAfter),
  };
}
