import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RouteSpec } from './routes.js';

/**
 * The embedded gateway: mounts route-table entries on the one Fastify server of
 * `shenma start`, each to the handler its role provides under the route's id.
 */

export type RouteHandler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** The extension's webview calls /api/... from a vscode-webview:// origin (client-contract §5.5). */
const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers':
    'api-key, authorization, content-type, ide, ide-version, ide-real-version, host-ip, x-request-id',
  'access-control-max-age': '600',
};

export function mountRoutes(
  app: FastifyInstance,
  routes: readonly RouteSpec[],
  handlers: Readonly<Record<string, RouteHandler>>,
): void {
  for (const route of routes) {
    const handler = handlers[route.id];
    if (!handler) throw new Error(`route table entry ${route.id} has no handler`);
    for (const url of route.paths) {
      app.route({
        method: [...route.methods],
        url,
        handler: route.cors
          ? async (req, reply) => {
              reply.headers(CORS_HEADERS);
              return handler(req, reply);
            }
          : handler,
      });
      if (route.cors && !route.methods.includes('OPTIONS')) {
        app.options(url, async (_req, reply) => reply.code(204).headers(CORS_HEADERS).send());
      }
    }
  }
}
