import type { Registry } from 'prom-client';
import type { RouteHandler } from '../gateway/embedded.js';
import type { ModelRegistry } from '../models/pool.js';

/** /healthz (the process answers), /readyz (its dependencies answer) and /metrics. */

export interface ReadinessCheck {
  name: string;
  check(): Promise<{ ok: boolean; detail?: unknown }>;
}

export function modelReadiness(models: ModelRegistry, role: 'completion' | 'chat'): ReadinessCheck {
  return {
    name: `${role}_models`,
    async check() {
      const detail: Record<string, unknown> = {};
      let ok = true;
      for (const g of models.groups.values()) {
        if (!g.settings.roles.includes(role)) continue;
        const healthy = g.replicas.filter((r) => r.healthy === true).length;
        if (healthy === 0) ok = false;
        detail[g.name] = {
          healthy_replicas: healthy,
          replicas: g.replicas.length,
          ...(healthy === 0
            ? { errors: g.replicas.map((r) => `${r.config.url}: ${r.lastError ?? 'not probed yet'}`) }
            : {}),
        };
      }
      if (Object.keys(detail).length === 0) return { ok: false, detail: `no ${role} model configured` };
      return { ok, detail };
    },
  };
}

export function opsHandlers(registry: Registry, checks: ReadinessCheck[]): Record<string, RouteHandler> {
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
