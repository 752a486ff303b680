import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { anthropicErrorHandler } from '../http/anthropic-errors.js';
import { authenticateWithChallenge } from '../http/authentication-error.js';
import { callerOf } from '../http/caller.js';
import { HttpError } from '../http/errors.js';
import type { Authenticate } from '../http/identity.js';
import { createRateLimiter } from '../http/rate-limit.js';
import type { RouteHandler } from '../http/route-handler.js';
import { bodyLimitBytes, type RouteSpec } from './routes.js';

/**
 * The embedded gateway: mounts route-table entries on the one Fastify server of
 * `shenma start`, each to the handler its role provides under the route's id. What the table asks
 * for (auth, rate limit, body limit) is checked from the headers in `onRequest`, before a byte of
 * the body is read: an anonymous or oversized upload costs neither memory nor parsing.
 */

/** The extension's webview calls /api/... from a vscode-webview:// origin (docs/protocol.md §5.5). */
const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers':
    'api-key, authorization, content-type, ide, ide-version, ide-real-version, host-ip, x-request-id',
  'access-control-max-age': '600',
};

/** Callers tracked per rate-limited route; past it the least recently seen is forgotten. */
const RATE_LIMIT_CLIENTS = 10_000;

export interface MountOptions {
  /** Required when any mounted route has `auth: 'user'`. */
  authenticate?: Authenticate;
  /** The configured models, for context-sized body limits. */
  models?: readonly { roles: readonly string[]; contextWindow: number; charsPerToken: number }[];
}

/** The 413 for a body over the route's limit, naming the limit. */
export function bodyTooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    'invalid_request_error',
    `request body too large: this route accepts at most ${limit} bytes (${formatBytes(limit)})`,
  );
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${+(n / (1024 * 1024)).toFixed(1)} MiB`;
  return `${+(n / 1024).toFixed(1)} KiB`;
}

export async function mountRoutes(
  app: FastifyInstance,
  routes: readonly RouteSpec[],
  handlers: Readonly<Record<string, RouteHandler>>,
  opts: MountOptions = {},
): Promise<void> {
  app.decorateRequest('identity', undefined);
  for (const route of routes) {
    // Socket.IO attaches to the HTTP server itself and answers its path before routing.
    if (route.websocket) continue;
    const handler = handlers[route.id];
    if (!handler) throw new Error(`route table entry ${route.id} has no handler`);
    if (route.auth === 'user' && !opts.authenticate)
      throw new Error(`route ${route.id} needs auth but none is set up`);
    if (route.methods.includes('POST') && !route.bodyLimit)
      throw new Error(`route ${route.id} takes a body but has no bodyLimit in the route table`);
    const authenticate = route.auth === 'user' ? opts.authenticate : undefined;
    const bodyLimit = route.bodyLimit ? bodyLimitBytes(route.bodyLimit, opts.models ?? []) : undefined;
    const limiter = route.rateLimit
      ? createRateLimiter({
          capacity: route.rateLimit.burst,
          refillPerMinute: route.rateLimit.perMinute,
          maxClients: RATE_LIMIT_CLIENTS,
        })
      : undefined;
    const onRequest = async (req: FastifyRequest, reply: FastifyReply) => {
      if (route.cors) reply.headers(CORS_HEADERS);
      if (authenticate) req.identity = await authenticateWithChallenge(authenticate, req, reply);
      if (limiter) {
        const decision = limiter.take(callerOf(req).key);
        if (!decision.allowed) {
          throw new HttpError(
            429,
            'rate_limit_error',
            `too many requests to ${route.paths[0]}; try again in ${decision.retryAfterSeconds} s`,
            undefined,
            decision.retryAfterSeconds,
          );
        }
      }
      // A declared length over the limit is refused unread; a chunked body is cut off by the parser.
      const declared = Number(req.headers['content-length']);
      if (bodyLimit !== undefined && declared > bodyLimit) throw bodyTooLarge(bodyLimit);
    };
    const register = (target: FastifyInstance) => {
      for (const url of route.paths) {
        const config = { routeId: route.id };
        target.route({
          method: [...route.methods],
          url,
          onRequest,
          ...(bodyLimit !== undefined ? { bodyLimit } : {}),
          handler,
          config,
          ...(route.errors === 'anthropic' ? { errorHandler: anthropicErrorHandler } : {}),
        });
        if (route.cors && !route.methods.includes('OPTIONS')) {
          target.options(url, { config }, async (_req, reply) =>
            reply.code(204).headers(CORS_HEADERS).send(),
          );
        }
      }
    };
    if (route.raw) {
      // The handler consumes the stream itself: mount it where no body parser runs first.
      await app.register(async (scope) => {
        scope.removeAllContentTypeParsers();
        scope.addContentTypeParser('*', (_req, _payload, done) => done(null));
        register(scope);
      });
    } else if (route.forms) {
      // The form parser where forms are taken (the login pages), and nowhere else; the route's
      // own body limit applies (no parser-wide override).
      await app.register(async (scope) => {
        await scope.register(formbody);
        register(scope);
      });
    } else {
      register(app);
    }
  }
}
