import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * One registry per running server (not prom-client's global one), so several servers in one
 * process (tests, `shenma start`) never share or double-register series.
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
