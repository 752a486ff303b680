import type { RoleFactory } from '../gateway/role.js';
import { modelReadiness } from '../models/index.js';
import { closeRedis, connectRedis } from '../storage/redis.js';
import { RedisChannels } from '../storage/redis-channels.js';
import { UsageLedger } from '../storage/usage-ledger.js';
import { CompletionCache } from './cache.js';
import { CompletionEngine } from './engine.js';
import { completionHandlers } from './handlers.js';
import { completionMetrics } from './metrics.js';
import { defaultCompletionModel } from './model-choice.js';
import { SupersedeRegistry } from './supersede.js';
import { shareSupersede } from './supersede-redis.js';
import { tabbyHandlers } from './tabby.js';
import { telemetryHandlers } from './telemetry.js';
import { CompletionMeter, completionUsageRecord } from './usage.js';

/** The completion role: the completion APIs and the extension's completion telemetry. */
export const completionRole: RoleFactory<'completion'> = async (ctx) => {
  const { config } = ctx;
  const metrics = completionMetrics(ctx.registry);
  const meter = new CompletionMeter(
    new UsageLedger(ctx.db.db, { registry: ctx.registry, log: ctx.log }),
    (err) => ctx.log.warn({ err }, 'usage ledger write failed'),
  );
  // With Redis, a newer request from a completion stream supersedes the older one on any replica.
  const redis = config.redis.url ? connectRedis(config.redis.url) : undefined;
  const channels = redis ? new RedisChannels(redis) : undefined;
  const shared = channels ? shareSupersede(channels, config.redis.keyPrefix, ctx.log) : undefined;
  const engine = new CompletionEngine({
    config: config.completion,
    models: ctx.models,
    cache: new CompletionCache(config.completion.cache.maxEntries, config.completion.cache.ttlMs),
    supersede: shared?.registry ?? new SupersedeRegistry(),
    metrics,
    logCode: config.log.logCode,
    onOutcome: (job, result) => {
      const row = completionUsageRecord(job, result);
      if (row) meter.add(row);
    },
  });
  const chatModel = config.chat.model ?? config.models.find((m) => m.roles.includes('chat'))?.name;
  return {
    handlers: {
      ...completionHandlers(engine),
      ...telemetryHandlers(ctx.db, config.completion),
      ...tabbyHandlers(ctx.db, {
        completion: defaultCompletionModel(ctx.models, config.completion)?.name,
        chat: chatModel,
      }),
    },
    readiness: [modelReadiness(ctx.models, 'completion')],
    // After the HTTP server stopped: every answered completion is in the ledger before the database closes.
    close: async () => {
      await meter.flush();
      shared?.close();
      await channels?.close();
      if (redis) await closeRedis(redis);
    },
  };
};
