import type { Registry } from 'prom-client';
import type { HandledRouteId, RouteHandlers } from '../gateway/routes.js';
import type { ReadinessCheck } from '../observability/readiness.js';

/** /healthz (the process answers), /readyz (its dependencies answer) and /metrics. */

export function opsHandlers(
  registry: Registry,
  checks: ReadinessCheck[],
): RouteHandlers<HandledRouteId<'ops'>> {
  return {
    'ops.healthz': async (_req, reply) => reply.send({ status: 'ok' }),
    'ops.readyz': async (_req, reply) => {
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
      return reply.code(ready ? 200 : 503).send({
        status: ready ? 'ready' : 'not_ready',
        checks: Object.fromEntries(
          results.map(([n, r]) => [n, { ok: r.ok, ...(r.detail !== undefined ? { detail: r.detail } : {}) }]),
        ),
      });
    },
    'ops.metrics': async (_req, reply) =>
      reply.header('content-type', registry.contentType).send(await registry.metrics()),
  };
}
