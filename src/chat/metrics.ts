import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Chat series on the server's registry; names are distinct from completion's so both roles can share it. */

/** Chat answers run for seconds to minutes, so the buckets reach further than completion's. */
const FIRST_TOKEN_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60];
const TOTAL_BUCKETS = [0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600];

export function chatMetrics(registry: Registry) {
  return {
    requests: new Counter({
      name: 'shenma_chat_requests_total',
      help: 'Chat requests by model and outcome (ok, client_cancelled, upstream_error, upstream_cut, timeout, rejected, quota_exceeded)',
      labelNames: ['model', 'status'] as const,
      registers: [registry],
    }),
    firstTokenSeconds: new Histogram({
      name: 'shenma_chat_first_token_seconds',
      help: 'From the request to the first answer chunk, including queueing and retries',
      labelNames: ['model'] as const,
      buckets: FIRST_TOKEN_BUCKETS,
      registers: [registry],
    }),
    totalSeconds: new Histogram({
      name: 'shenma_chat_total_seconds',
      help: 'Whole chat answer duration',
      labelNames: ['model', 'status'] as const,
      buckets: TOTAL_BUCKETS,
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'shenma_chat_in_flight',
      help: 'Chat answers being streamed',
      labelNames: ['model'] as const,
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: 'shenma_chat_upstream_errors_total',
      help: 'Chat upstream failures by kind (unreachable, status, protocol, reset, first_token_timeout, idle_timeout, total_timeout, overloaded, unavailable)',
      labelNames: ['model', 'kind'] as const,
      registers: [registry],
    }),
    retries: new Counter({
      name: 'shenma_chat_retries_total',
      help: 'Attempts repeated before the first token: on another replica, or on the fallback model',
      labelNames: ['model', 'to', 'cause'] as const,
      registers: [registry],
    }),
  };
}

export type ChatMetrics = ReturnType<typeof chatMetrics>;
