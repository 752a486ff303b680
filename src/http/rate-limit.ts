/**
 * A token bucket per client key (the client address), in memory. Captcha images cost CPU to draw
 * and each outstanding answer costs memory, so one client may not ask for them without limit.
 * The number of tracked clients is bounded too: past it, the least recently seen is forgotten
 * (which at worst gives that client a fresh bucket).
 */

export interface RateLimiterOptions {
  /** Burst size: this many requests at once, then `refillPerMinute`. */
  capacity: number;
  refillPerMinute: number;
  /** Most clients tracked at once. */
  maxClients: number;
  now?: () => number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  take(key: string): RateDecision;
}

export function createRateLimiter(opts: RateLimiterOptions): RateLimiter {
  const now = opts.now ?? Date.now;
  const perMs = opts.refillPerMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();

  return {
    take(key) {
      const t = now();
      const previous = buckets.get(key);
      const tokens = previous
        ? Math.min(opts.capacity, previous.tokens + (t - previous.at) * perMs)
        : opts.capacity;
      // Re-insert so Map order is least recently seen first, which is what we evict.
      buckets.delete(key);
      if (buckets.size >= opts.maxClients) buckets.delete(buckets.keys().next().value as string);
      if (tokens < 1) {
        buckets.set(key, { tokens, at: t });
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)) };
      }
      buckets.set(key, { tokens: tokens - 1, at: t });
      return { allowed: true };
    },
  };
}
