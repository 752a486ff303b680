import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';

/**
 * Every error leaves as JSON in the OpenAI error shape, which both the extension (it only logs
 * it) and OpenAI-compatible clients understand: {"error": {"message", "type", "param", "code"}}.
 * `param` names the offending field for 400s.
 */

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'overloaded_error'
  | 'upstream_error'
  | 'model_unavailable'
  | 'timeout_error'
  | 'server_error';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    message: string,
    readonly param?: string,
    /** Seconds for Retry-After on 429/503. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

export function errorBody(type: ErrorType, message: string, param?: string) {
  return { error: { message, type, param: param ?? null, code: null } };
}

/** Turns a zod failure into a 400 naming the first offending field. */
export function badRequestFromZod(error: z.ZodError, prefix = ''): HttpError {
  const issue = specificIssue(error.issues[0]!);
  const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
  const where = path || '(body)';
  return new HttpError(400, 'invalid_request_error', `${where}: ${issue.message}`, path || undefined);
}

type Issue = { path: PropertyKey[]; message: string; code?: string; errors?: Issue[][]; expected?: string };

/**
 * A union's failure says only "Invalid input" at the union. What helps a client is the branch it
 * meant, taken to be the one whose first issue lies deepest (a message with a bad role fails the
 * string branch at the top and the message branch at `.role`), or, when every branch fails at the
 * value itself, which types would have done.
 */
function specificIssue(issue: Issue): { path: PropertyKey[]; message: string } {
  if (issue.code !== 'invalid_union' || !issue.errors?.length) return issue;
  const firsts = issue.errors.flatMap((branch) => (branch[0] ? [branch[0]] : []));
  let best: { path: PropertyKey[]; message: string } | undefined;
  for (const first of firsts) {
    const resolved = specificIssue(first);
    if (!best || resolved.path.length > best.path.length) best = resolved;
  }
  if (best && best.path.length > 0) return { path: [...issue.path, ...best.path], message: best.message };
  const expected = firsts.map((f) => (f.code === 'invalid_type' ? f.expected : undefined));
  if (expected.length > 0 && expected.every((e) => e !== undefined)) {
    const received = /received (\w+)/.exec(firsts[0]!.message)?.[1];
    const types = [...new Set(expected)].join(' or ');
    return { path: issue.path, message: `expected ${types}${received ? `, received ${received}` : ''}` };
  }
  return best ? { path: issue.path, message: best.message } : issue;
}

export function sendError(reply: FastifyReply, err: HttpError): FastifyReply {
  if (err.retryAfter !== undefined)
    reply.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfter))));
  return reply.code(err.status).send(errorBody(err.type, err.message, err.param));
}

/** Fastify's own failures (bad JSON, body too large, wrong content type) as an HttpError; 5xx are logged. */
export function httpErrorOf(err: FastifyError | HttpError, req: FastifyRequest): HttpError {
  if (err instanceof HttpError) return err;
  const status = err.statusCode ?? 500;
  if (status >= 500) {
    req.log.error({ err }, 'unhandled error');
    return new HttpError(500, 'server_error', 'internal error; see the server log');
  }
  const limit = req.routeOptions?.bodyLimit;
  const message =
    err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
      ? /^\s*application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')
        ? 'content-type must be application/json; this body was sent as a form (with curl, add -H "content-type: application/json")'
        : 'content-type must be application/json'
      : err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? `request body too large${limit ? `: this route accepts at most ${limit} bytes` : ''}`
        : err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
          ? 'request body is empty; expected a JSON object'
          : err.message.startsWith('Unexpected') || err.message.includes('JSON')
            ? `body is not valid JSON: ${err.message}`
            : err.message;
  return new HttpError(status, 'invalid_request_error', message);
}

/** Fastify's own failures (bad JSON, body too large, wrong content type) get the same shape. */
export function fastifyErrorHandler(err: FastifyError | HttpError, req: FastifyRequest, reply: FastifyReply) {
  return sendError(reply, httpErrorOf(err, req));
}
