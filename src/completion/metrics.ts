import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The completion role's Prometheus series (the model pool's own are in models/metrics.ts). */

const PHASE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function completionMetrics(registry: Registry) {
  return {
    phaseSeconds: new Histogram({
      name: 'shenma_completion_phase_seconds',
      help: 'Time spent per completion phase: queue, prompt (build), first_token, total',
      labelNames: ['phase', 'model'] as const,
      buckets: PHASE_BUCKETS,
      registers: [registry],
    }),
    requests: new Counter({
      name: 'shenma_completion_requests_total',
      help: 'Completion requests by API, HTTP status and outcome reason',
      labelNames: ['api', 'status', 'reason'] as const,
      registers: [registry],
    }),
    filterHits: new Counter({
      name: 'shenma_completion_filter_hits_total',
      help: 'Post-processing filters that changed an answer',
      labelNames: ['filter'] as const,
      registers: [registry],
    }),
    cache: new Counter({
      name: 'shenma_completion_cache_total',
      help: 'Cache lookups: hit, typed_through (prefix extended by the suggested text) or miss',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    aborts: new Counter({
      name: 'shenma_completion_upstream_aborts_total',
      help: 'Upstream calls closed early: decided (answer complete), client_gone, superseded, deadline',
      labelNames: ['cause'] as const,
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: 'shenma_upstream_errors_total',
      help: 'Model backend failures by kind (unreachable, status, protocol, reset, timeout)',
      labelNames: ['model', 'kind'] as const,
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'shenma_completion_in_flight',
      help: 'Completion requests being served',
      labelNames: ['model'] as const,
      registers: [registry],
    }),
    fallbacks: new Counter({
      name: 'shenma_completion_fallbacks_total',
      help: 'Requests answered by the fallback model, by cause',
      labelNames: ['from', 'to', 'cause'] as const,
      registers: [registry],
    }),
  };
}
export type CompletionMetrics = ReturnType<typeof completionMetrics>;
