import type { UsageRecord } from '../storage/usage-ledger.js';
import type { ChatContext, ChatOutcome } from './types.js';

/** The ledger row for a finished chat request. */
export function usageRecordOf(ctx: ChatContext, outcome: ChatOutcome): UsageRecord {
  return {
    requestId: ctx.requestId,
    userId: ctx.user.id,
    userName: ctx.user.name,
    model: outcome.model,
    route: ctx.route,
    promptTokens: outcome.usage.promptTokens,
    completionTokens: outcome.usage.completionTokens,
    estimated: outcome.usage.estimated,
    firstTokenMs: outcome.firstTokenMs,
    totalMs: outcome.totalMs,
    status: outcome.status,
    error: outcome.error,
  };
}
