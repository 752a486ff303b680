import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { HandledRouteId, RouteHandlers } from '../gateway/routes.js';
import { HttpError } from '../http/errors.js';
import type { ReadinessCheck } from '../observability/readiness.js';

/** /healthz (the process answers), /readyz (its dependencies answer) and /metrics. */

/**
 * Who may read /metrics and the details of /readyz (model names, replica addresses, errors). A
 * server listening on loopback only shows them to everyone who can reach it; one listening
 * beyond loopback shows them to loopback callers and to callers presenting `server.metricsToken`
 * as a Bearer token. /readyz still answers 200/503 with its status to everyone (probes need it).
 */
export interface OpsAccess {
  /** The address the server listens on. */
  host: string;
  metricsToken?: string | undefined;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+|localhost)$/;

export function isLoopback(address: string | undefined): boolean {
  return address !== undefined && LOOPBACK.test(address);
}

function bearerMatches(req: FastifyRequest, token: string | undefined): boolean {
  if (!token) return false;
  const header = req.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
  const sent = Buffer.from(header.slice(7));
  const expected = Buffer.from(token);
  return sent.length === expected.length && timingSafeEqual(sent, expected);
}

export function opsAccessAllowed(req: FastifyRequest, access: OpsAccess): boolean {
  return (
    isLoopback(access.host) || isLoopback(req.socket.remoteAddress) || bearerMatches(req, access.metricsToken)
  );
}

export function opsHandlers(
  registry: Registry,
  checks: ReadinessCheck[],
  access: OpsAccess = { host: '127.0.0.1' },
): RouteHandlers<HandledRouteId<'ops'>> {
  return {
    'ops.healthz': async (_req, reply) => reply.send({ status: 'ok' }),
    'ops.readyz': async (req, reply) => {
      const results = await Promise.all(
        checks.map(async (c) => {
          try {
            return [c.name, await c.check()] as const;
          } catch (err) {
            return [c.name, { ok: false, detail: String((err as Error).message ?? err) }] as const;
          }
        }),
      );
      const ready = results.every(([, r]) => r.ok);
      if (!opsAccessAllowed(req, access)) {
        return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready' });
      }
      return reply.code(ready ? 200 : 503).send({
        status: ready ? 'ready' : 'not_ready',
        checks: Object.fromEntries(
          results.map(([n, r]) => [n, { ok: r.ok, ...(r.detail !== undefined ? { detail: r.detail } : {}) }]),
        ),
      });
    },
    'ops.metrics': async (req, reply) => {
      if (!opsAccessAllowed(req, access)) {
        reply.header('www-authenticate', 'Bearer');
        throw new HttpError(
          401,
          'authentication_error',
          access.metricsToken
            ? '/metrics needs the Bearer token set in server.metricsToken'
            : '/metrics answers loopback callers only; set server.metricsToken to scrape it from elsewhere',
        );
      }
      return reply.header('content-type', registry.contentType).send(await registry.metrics());
    },
  };
}
