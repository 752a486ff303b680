import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { levelEnabled } from './logger.js';

/**
 * One JSON line per HTTP request: method, route id, status, user, latency, and — when the handler
 * noted them — the model and the outcome reason. Never a body, a query string or prompt text:
 * query strings carry authorization codes and tokens, bodies carry code.
 *
 * Handlers say how a request ended with `noteOutcome`; auth refusals and login results noted here
 * are also counted (`shenma_auth_refusals_total{reason}`, `shenma_logins_total{result}`).
 */

export interface RequestOutcome {
  /** The model that answered (or should have). */
  model?: string;
  /** Why it ended the way it did: `auth:<why>`, `login:<result>`, a completion reason, an error type. */
  reason?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    outcome?: RequestOutcome;
    /** Its access line was written. */
    accessLogged: boolean;
  }
  interface FastifyContextConfig {
    /** The route table id this route was mounted for. */
    routeId?: string;
  }
}

export function noteOutcome(req: FastifyRequest, outcome: RequestOutcome): void {
  req.outcome = { ...req.outcome, ...outcome };
}

export const LOGIN_RESULTS = ['success', 'failure', 'captcha', 'backoff'] as const;
export type LoginResult = (typeof LOGIN_RESULTS)[number];

export function noteLogin(req: FastifyRequest, result: LoginResult): void {
  noteOutcome(req, { reason: `login:${result}` });
}

export function registerAccessLog(app: FastifyInstance, registry: Registry): void {
  const authRefusals = new Counter({
    name: 'shenma_auth_refusals_total',
    help: 'Requests refused for their credentials, by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  const logins = new Counter({
    name: 'shenma_logins_total',
    help: 'Login form submissions by result: success, failure (bad name or password), captcha (missing or wrong), backoff (too many failures)',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of LOGIN_RESULTS) logins.inc({ result }, 0);

  app.decorateRequest('outcome', undefined);
  app.decorateRequest('accessLogged', false);
  app.addHook('onError', async (req, _reply, err: FastifyError & { type?: string }) => {
    if (!req.outcome?.reason) noteOutcome(req, { reason: err.type ?? err.code ?? err.name });
  });
  // Callback style, not async: an async hook costs a promise per request.
  app.addHook('onResponse', (req, reply, done) => {
    const reason = req.outcome?.reason;
    if (reason?.startsWith('auth:') && reply.statusCode === 401) {
      authRefusals.inc({ reason: reason.slice(5) });
    }
    if (reason?.startsWith('login:')) logins.inc({ result: reason.slice(6) });
    writeLine(reply, reply.statusCode, reason);
    done();
  });
}

/**
 * The line of a request whose client hung up before its answer was complete. Fastify runs no
 * onResponse for it (the response never finishes), so the routes that stream a model's answer,
 * where clients do hang up, call this from the close listener they keep anyway (http/request.ts).
 * The status is the one the client was sent, or nginx's 499 (client closed request) if none was.
 */
export function logAbandonedRequest(reply: FastifyReply): void {
  const status = reply.raw.headersSent ? reply.statusCode : 499;
  writeLine(reply, status, reply.request.outcome?.reason ?? 'client_gone');
}

function writeLine(reply: FastifyReply, status: number, reason: string | undefined): void {
  const req = reply.request;
  // One line per request, whichever way it ended (a response can error and then close unfinished).
  if (req.accessLogged) return;
  req.accessLogged = true;
  const route = req.routeOptions.config.routeId ?? (status === 404 ? 'not_found' : req.routeOptions.url);
  // Upstream trouble (502-504) is a warning an operator acts on; a 500 is a bug. Probes and
  // scrapes come every few seconds: seen at debug unless they fail.
  const level =
    status >= 500 && status !== 502 && status !== 503 && status !== 504
      ? 'error'
      : status >= 502
        ? 'warn'
        : route?.startsWith('ops.') && status < 400
          ? 'debug'
          : 'info';
  // The line is built only when it will be written.
  if (!levelEnabled(req.log, level)) return;
  req.log[level](
    {
      method: req.method,
      route,
      path: req.url.split('?')[0],
      status,
      user: req.identity?.name,
      ms: Math.round(reply.elapsedTime),
      model: req.outcome?.model,
      reason,
    },
    'request',
  );
}
