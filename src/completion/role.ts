import type { RoleFactory } from '../gateway/role.js';
import { modelReadiness } from '../models/index.js';
import { CompletionCache } from './cache.js';
import { CompletionEngine } from './engine.js';
import { completionMetrics } from './metrics.js';
import { completionHandlers } from './routes.js';
import { SupersedeRegistry } from './supersede.js';
import { tabbyHandlers } from './tabby.js';
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
  const chatModel = config.chat.model ?? config.models.find((m) => m.roles.includes('chat'))?.name;
  return {
    handlers: {
      ...completionHandlers(engine, metrics),
      ...telemetryHandlers(ctx.db, config.completion),
      ...tabbyHandlers(engine, ctx.db, chatModel),
    },
    readiness: [modelReadiness(ctx.models, 'completion')],
  };
};
