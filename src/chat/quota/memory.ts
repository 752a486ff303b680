import {
  type QuotaLimit,
  type QuotaStore,
  type Reservation,
  type ReserveResult,
  secondsUntilUtcMidnight,
  utcDay,
  wholeTokens,
} from './store.js';

interface Counter {
  requests: number;
  tokens: number;
}

/**
 * Quota counters in this process (the embedded shape, one server). Each operation runs to
 * completion without awaiting anything, and JavaScript runs one of them at a time, so
 * check-and-take is atomic. Counters live only as long as the process: a restart starts the
 * day's counts afresh.
 */
export class MemoryQuotaStore implements QuotaStore {
  readonly #counters = new Map<string, Counter>();
  #today = '';

  async reserve(key: string, limits: QuotaLimit, estimatedTokens: number, now: Date): Promise<ReserveResult> {
    const day = utcDay(now);
    if (day > this.#today) this.#forgetDaysBefore(day);
    const id = `${key}\u0000${day}`;
    const counter = this.#counters.get(id) ?? { requests: 0, tokens: 0 };
    const tokens = wholeTokens(estimatedTokens);
    const which = refusal(counter, limits, tokens);
    if (which) return { ok: false, retryAfterSeconds: secondsUntilUtcMidnight(now), which };
    counter.requests += 1;
    counter.tokens += tokens;
    this.#counters.set(id, counter);
    return { ok: true, reservation: { key, day, tokens } };
  }

  async settle(reservation: Reservation, actualTokens: number): Promise<void> {
    const counter = this.#counters.get(`${reservation.key}\u0000${reservation.day}`);
    if (!counter) return; // the day is over and forgotten
    counter.tokens = Math.max(0, counter.tokens + wholeTokens(actualTokens) - reservation.tokens);
  }

  async release(reservation: Reservation): Promise<void> {
    const counter = this.#counters.get(`${reservation.key}\u0000${reservation.day}`);
    if (!counter) return;
    counter.requests = Math.max(0, counter.requests - 1);
    counter.tokens = Math.max(0, counter.tokens - reservation.tokens);
  }

  async close(): Promise<void> {}

  /** Keeps yesterday (answers still streaming over midnight settle there) and drops older days. */
  #forgetDaysBefore(day: string): void {
    this.#today = day;
    const yesterday = utcDay(new Date(Date.UTC(+day.slice(0, 4), +day.slice(4, 6) - 1, +day.slice(6) - 1)));
    for (const id of this.#counters.keys()) {
      const counterDay = id.slice(id.lastIndexOf('\u0000') + 1);
      if (counterDay < yesterday) this.#counters.delete(id);
    }
  }
}

/** Which limit taking one more request and `tokens` would pass, if any. */
export function refusal(
  counter: Counter,
  limits: QuotaLimit,
  tokens: number,
): 'requests' | 'tokens' | undefined {
  if (limits.requests !== undefined && counter.requests + 1 > limits.requests) return 'requests';
  if (limits.tokens !== undefined && counter.tokens + tokens > limits.tokens) return 'tokens';
  return undefined;
}
