import type { UsageRecord } from '../storage/usage-ledger.js';
import type { CompletionFailure, CompletionJob, CompletionOutcome } from './engine.js';

/**
 * The usage-ledger row of a finished completion request, or undefined when there is nothing to
 * meter: no known user, or a "don't complete here" rule answered before any model or cache was
 * asked (those come with nearly every keystroke and cost nothing).
 */
export function completionUsageRecord(
  job: CompletionJob,
  result: CompletionOutcome | CompletionFailure,
): UsageRecord | undefined {
  if (!job.user) return undefined;
  const common = {
    requestId: job.requestId,
    userId: job.user.id,
    userName: job.user.name,
    route: 'completion' as const,
    // No stream we read reports usage, so completion counts are always local estimates.
    estimated: true,
  };
  if ('error' in result) {
    const { error } = result;
    return {
      ...common,
      model: result.model,
      promptTokens: 0,
      completionTokens: 0,
      totalMs: result.totalMs,
      // Refused before any model was asked (an unknown model, none configured): not usage.
      status:
        error.type === 'timeout_error'
          ? 'timeout'
          : error.type === 'not_found_error' || error.type === 'invalid_request_error'
            ? 'rejected'
            : 'upstream_error',
      error: error.message,
    };
  }
  if (result.kind === 'rejected') return undefined;
  const completed = result.kind === 'completed';
  return {
    ...common,
    model: result.model,
    promptTokens: completed ? result.promptTokens : 0,
    completionTokens: completed ? result.completionTokens : 0,
    firstTokenMs: result.timings.firstTokenMs,
    totalMs: result.timings.totalMs,
    status: completed ? 'ok' : result.kind === 'client_gone' ? 'client_cancelled' : 'superseded',
  };
}
