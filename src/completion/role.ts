import type { RoleFactory } from '../gateway/role.js';
import { modelReadiness } from '../models/index.js';
import { UsageLedger } from '../storage/usage-ledger.js';
import { CompletionCache } from './cache.js';
import { CompletionEngine } from './engine.js';
import { completionHandlers } from './handlers.js';
import { completionMetrics } from './metrics.js';
import { SupersedeRegistry } from './supersede.js';
import { telemetryHandlers } from './telemetry.js';
import { completionUsageRecord } from './usage.js';

/** The completion role: the completion APIs and the extension's completion telemetry. */
export const completionRole: RoleFactory<'completion'> = async (ctx) => {
  const { config } = ctx;
  const metrics = completionMetrics(ctx.registry);
  const ledger = new UsageLedger(ctx.db.db, { registry: ctx.registry, log: ctx.log });
  const engine = new CompletionEngine({
    config: config.completion,
    models: ctx.models,
    cache: new CompletionCache(config.completion.cache.maxEntries, config.completion.cache.ttlMs),
    supersede: new SupersedeRegistry(),
    metrics,
    logCode: config.log.logCode,
    // The editor does not wait for the ledger: a completion is answered whether or not its row
    // is written yet, and a failed write is logged, not turned into a failed completion.
    onOutcome: (job, result) => {
      const row = completionUsageRecord(job, result);
      if (row) ledger.record(row).catch((err: unknown) => job.log.warn({ err }, 'usage ledger write failed'));
    },
  });
  return {
    handlers: { ...completionHandlers(engine), ...telemetryHandlers(ctx.db, config.completion) },
    readiness: [modelReadiness(ctx.models, 'completion')],
  };
};
