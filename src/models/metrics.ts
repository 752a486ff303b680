import { Gauge, type Registry } from 'prom-client';

/** Replica health, concurrency and queue length of the model pool, shared by completion and chat. */
export function modelMetrics(registry: Registry) {
  return {
    replicaHealthy: new Gauge({
      name: 'shenma_model_replica_healthy',
      help: '1 when the replica answered its last probe or request',
      labelNames: ['model', 'url'] as const,
      registers: [registry],
    }),
    concurrencyLimit: new Gauge({
      name: 'shenma_model_replica_concurrency_limit',
      help: 'Requests the replica may have in flight now (adaptive between minConcurrency and maxConcurrency, or fixed)',
      labelNames: ['model', 'url'] as const,
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'shenma_model_replica_in_flight',
      help: 'Requests in flight to the replica',
      labelNames: ['model', 'url'] as const,
      registers: [registry],
    }),
    queued: new Gauge({
      name: 'shenma_model_queue_length',
      help: 'Requests waiting for a model slot',
      labelNames: ['model'] as const,
      registers: [registry],
    }),
  };
}
export type ModelMetrics = ReturnType<typeof modelMetrics>;
