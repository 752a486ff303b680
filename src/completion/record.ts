import { levelEnabled } from '../observability/logger.js';
import { outcomeReason } from './api/shared.js';
import type { CompletionFailure, CompletionJob, CompletionOutcome } from './engine.js';
import type { CompletionMetrics } from './metrics.js';

/**
 * The metrics and the summary log line of one completion request, recorded once when it ended,
 * from its outcome and what the stages noted on the way. (Per-try events of the upstream call,
 * such as upstream errors and fallbacks, are counted as they happen.)
 */

export interface RunNotes {
  /** The answer cache's verdict, when it was asked. */
  cache?: 'hit' | 'typed_through' | 'miss';
  /** The stop detector decided the answer and the upstream call was closed early. */
  decided?: boolean;
}

export function recordOutcome(
  metrics: CompletionMetrics,
  job: CompletionJob,
  outcome: CompletionOutcome,
  notes: RunNotes,
): void {
  const reason = outcomeReason(outcome);
  metrics.requests.inc({ api: job.api, status: '200', reason });
  metrics.phaseSeconds.observe({ phase: 'total', model: outcome.model }, outcome.timings.totalMs / 1000);
  if (notes.cache) metrics.cache.inc({ result: notes.cache });
  if (notes.decided) metrics.aborts.inc({ cause: 'decided' });
  if (outcome.kind === 'client_gone') metrics.aborts.inc({ cause: 'client_gone' });
  if (outcome.kind === 'superseded') metrics.aborts.inc({ cause: 'superseded' });
  if (outcome.kind === 'completed') {
    metrics.phaseSeconds.observe({ phase: 'queue', model: outcome.model }, outcome.timings.queueMs / 1000);
    // A reused answer's filters ran when it was first made.
    if (outcome.source === 'model' || outcome.source === 'deadline_partial') {
      for (const filter of outcome.filters) metrics.filterHits.inc({ filter });
    }
  }
  // The access log line carries model and reason; this one adds the details for debugging.
  // Built only when it will be written: this runs for every request.
  if (!levelEnabled(job.log, 'debug')) return;
  job.log.debug(
    {
      api: job.api,
      model: outcome.model,
      reason,
      ms: Math.round(outcome.timings.totalMs),
      filters: outcome.kind === 'completed' ? outcome.filters : undefined,
    },
    'completion',
  );
}

export function recordFailure(
  metrics: CompletionMetrics,
  job: CompletionJob,
  failure: CompletionFailure,
  notes: RunNotes,
): void {
  const err = failure.error;
  metrics.requests.inc({ api: job.api, status: String(err.status), reason: err.type });
  if (notes.cache) metrics.cache.inc({ result: notes.cache });
  // Upstream trouble (5xx) is what an operator must see; a client's 4xx is routine.
  job.log[err.status >= 500 ? 'warn' : 'info'](
    { api: job.api, status: err.status, error: err.message },
    'completion failed',
  );
}
