import { ModelUnavailableError, OverloadedError, UpstreamError, UpstreamTimeout } from '../models/index.js';
import { HttpError } from './errors.js';

/**
 * What a failed model call (models/errors.ts) becomes for a client, for completion and chat
 * alike. A pure mapping: metrics and logs are the caller's.
 *
 * An upstream 503 becomes 503 `model_unavailable` (its Retry-After passed on, else 5 s) in both
 * features: the model server said it cannot serve now, which is neither the caller's request
 * rate (429 is kept for that: our queue, or the upstream's own 429) nor a fault of ours (502).
 */
export interface UpstreamErrorContext {
  /** The model name as configured (the one that failed last). */
  model: string;
  /** Answer text already reached the client: a later failure cut the answer. */
  started: boolean;
  /**
   * The upstream request carries the client's own content as sent (chat messages, tools): a 4xx
   * the client can act on is passed on. Completion prompts are built by us, so those are 502s.
   */
  clientOwnsRequest: boolean;
}

/**
 * An upstream 4xx the client can act on. 401, 403, 404 and 407 mean Shenma's own apiKey, model
 * name or URL for that backend is wrong: passed on, a 401 would tell the IDE its login is bad.
 * 408 (after the retries) is a timeout, not a bad request.
 */
function clientsToFix(status: number): boolean {
  return status >= 400 && status < 500 && ![401, 403, 404, 407, 408].includes(status);
}

/** The HTTP error for a failed model call, or undefined when `err` is not one. */
export function upstreamHttpError(err: unknown, ctx: UpstreamErrorContext): HttpError | undefined {
  const { model } = ctx;
  if (err instanceof UpstreamTimeout)
    return new HttpError(504, 'timeout_error', `model "${model}": ${err.message}`);
  if (err instanceof OverloadedError)
    return new HttpError(429, 'overloaded_error', err.message, undefined, err.retryAfter);
  if (err instanceof ModelUnavailableError)
    return new HttpError(503, 'model_unavailable', err.message, undefined, 5);
  if (!(err instanceof UpstreamError)) return undefined;
  if (ctx.started)
    return new HttpError(502, 'upstream_error', `model "${model}" broke off the answer: ${err.message}`);
  if (err.kind === 'unreachable') {
    return new HttpError(
      503,
      'model_unavailable',
      `model "${model}" is unreachable: ${err.message}`,
      undefined,
      5,
    );
  }
  if (err.kind === 'status' && err.status === 429) {
    return new HttpError(
      429,
      'overloaded_error',
      `model "${model}" is overloaded: ${err.message}`,
      undefined,
      err.retryAfter ?? 1,
    );
  }
  if (err.kind === 'status' && err.status === 503) {
    return new HttpError(
      503,
      'model_unavailable',
      `model "${model}" is unavailable: ${err.message}`,
      undefined,
      err.retryAfter ?? 5,
    );
  }
  if (
    ctx.clientOwnsRequest &&
    err.kind === 'status' &&
    err.status !== undefined &&
    clientsToFix(err.status)
  ) {
    // The request itself was refused (context too long, bad tool schema): the client must change
    // it, so this is the one case where the backend's own words (err.detail) are passed on.
    return new HttpError(
      err.status,
      'invalid_request_error',
      `model "${model}" refused the request (${err.status})${err.detail ? `: ${err.detail}` : ''}`,
    );
  }
  return new HttpError(502, 'upstream_error', `model "${model}" failed: ${err.message}`);
}
