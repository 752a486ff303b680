import type { RoleFactory } from '../gateway/role.js';
import { modelReadiness } from '../models/index.js';
import { CompletionCache } from './cache.js';
import { CompletionEngine } from './engine.js';
import { completionHandlers } from './handlers.js';
import { completionMetrics } from './metrics.js';
import { SupersedeRegistry } from './supersede.js';
import { telemetryHandlers } from './telemetry.js';

/** The completion role: the completion APIs and the extension's completion telemetry. */
export const completionRole: RoleFactory<'completion'> = async (ctx) => {
  const { config } = ctx;
  const metrics = completionMetrics(ctx.registry);
  const engine = new CompletionEngine({
    config: config.completion,
    models: ctx.models,
    cache: new CompletionCache(config.completion.cache.maxEntries, config.completion.cache.ttlMs),
    supersede: new SupersedeRegistry(),
    metrics,
    logCode: config.log.logCode,
  });
  return {
    handlers: { ...completionHandlers(engine, metrics), ...telemetryHandlers(ctx.db, config.completion) },
    readiness: [modelReadiness(ctx.models, 'completion')],
  };
};
