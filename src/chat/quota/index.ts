/** Daily request and token quotas per user and per group (config `quotas`), in-process or in Redis. */
export { createQuotaGuard, type QuotaGuard, type QuotaScope, quotaScopesFor } from './guard.js';
export { MemoryQuotaStore } from './memory.js';
export { RedisQuotaStore, type RedisQuotaStoreOptions } from './redis.js';
export {
  type QuotaLimit,
  type QuotaStore,
  type Reservation,
  type ReserveResult,
  secondsUntilUtcMidnight,
  utcDay,
} from './store.js';

import { MemoryQuotaStore } from './memory.js';
import { RedisQuotaStore } from './redis.js';
import type { QuotaStore } from './store.js';

/** Redis when `redis.url` is set (several replicas share the counters), else this process's memory. */
export function createQuotaStore(redisUrl: string | undefined): QuotaStore {
  return redisUrl ? RedisQuotaStore.connect(redisUrl) : new MemoryQuotaStore();
}
