import type { FastifyInstance } from 'fastify';
import { anthropicErrorHandler } from '../http/anthropic-errors.js';
import { authenticateWithChallenge } from '../http/authentication-error.js';
import type { Authenticate } from '../http/identity.js';
import type { RouteHandler } from '../http/route-handler.js';
import type { RouteSpec } from './routes.js';

/**
 * The embedded gateway: mounts route-table entries on the one Fastify server of
 * `shenma start`, each to the handler its role provides under the route's id, with the auth
 * the table asks for checked before the handler runs.
 */

/** The extension's webview calls /api/... from a vscode-webview:// origin (docs/protocol.md §5.5). */
const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers':
    'api-key, authorization, content-type, ide, ide-version, ide-real-version, host-ip, x-request-id',
  'access-control-max-age': '600',
};

export interface MountOptions {
  /** Required when any mounted route has `auth: 'user'`. */
  authenticate?: Authenticate;
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
    const authenticate = route.auth === 'user' ? opts.authenticate : undefined;
    const run: RouteHandler = async (req, reply) => {
      if (route.cors) reply.headers(CORS_HEADERS);
      if (authenticate) req.identity = await authenticateWithChallenge(authenticate, req, reply);
      return handler(req, reply);
    };
    const register = (target: FastifyInstance) => {
      for (const url of route.paths) {
        target.route({
          method: [...route.methods],
          url,
          handler: run,
          ...(route.errors === 'anthropic' ? { errorHandler: anthropicErrorHandler } : {}),
        });
        if (route.cors && !route.methods.includes('OPTIONS')) {
          target.options(url, async (_req, reply) => reply.code(204).headers(CORS_HEADERS).send());
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
    } else {
      register(app);
    }
  }
}
