import type { ReadinessCheck } from '../observability/readiness.js';
import { redactUrl } from '../observability/redact.js';
import type { ModelRegistry } from './pool.js';

/** Ready when every model group serving `role` has at least one replica that answered. */
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
            ? {
                errors: g.replicas.map(
                  (r) => `${redactUrl(r.config.url)}: ${r.lastError ?? 'not probed yet'}`,
                ),
              }
            : {}),
        };
      }
      if (Object.keys(detail).length === 0) return { ok: false, detail: `no ${role} model configured` };
      return { ok, detail };
    },
  };
}
