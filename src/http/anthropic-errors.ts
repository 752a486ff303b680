import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorType, type HttpError, httpErrorOf } from './errors.js';

/**
 * Errors in the Anthropic API's shape, for the routes Anthropic clients call:
 * `{"type": "error", "error": {"type", "message"}}`, with Anthropic's error types, which its SDK
 * turns into the matching exception classes.
 */

const ANTHROPIC_TYPES: Record<ErrorType, string> = {
  invalid_request_error: 'invalid_request_error',
  authentication_error: 'authentication_error',
  not_found_error: 'not_found_error',
  rate_limit_error: 'rate_limit_error',
  overloaded_error: 'overloaded_error',
  model_unavailable: 'overloaded_error',
  upstream_error: 'api_error',
  timeout_error: 'timeout_error',
  server_error: 'api_error',
};

export function anthropicErrorBody(type: ErrorType, message: string, status?: number) {
  const anthropicType = status === 413 ? 'request_too_large' : ANTHROPIC_TYPES[type];
  return { type: 'error', error: { type: anthropicType, message } };
}

export function sendAnthropicError(reply: FastifyReply, err: HttpError): FastifyReply {
  if (err.retryAfter !== undefined)
    reply.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfter))));
  return reply.code(err.status).send(anthropicErrorBody(err.type, err.message, err.status));
}

/** Route-level error handler: auth failures, bad JSON and handler errors, all in Anthropic's shape. */
export function anthropicErrorHandler(
  err: FastifyError | HttpError,
  req: FastifyRequest,
  reply: FastifyReply,
) {
  return sendAnthropicError(reply, httpErrorOf(err, req));
}
