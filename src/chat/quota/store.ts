/**
 * Daily quota counters: per key (a user or a group) per UTC day, requests and tokens.
 * Reserve before the upstream call, settle after: `reserve` atomically checks the limits and
 * takes one request plus an estimate of the tokens, so concurrent requests can never together
 * pass a limit; `settle` replaces the estimate with what the answer actually used.
 */

export interface QuotaLimit {
  requests?: number | undefined;
  tokens?: number | undefined;
}

/** What `reserve` took; hand it back to `settle` or `release`. */
export interface Reservation {
  readonly key: string;
  /** The UTC day (yyyymmdd) charged: an answer that runs past midnight settles on the day it started. */
  readonly day: string;
  readonly tokens: number;
}

export type ReserveResult =
  | { ok: true; reservation: Reservation }
  | { ok: false; retryAfterSeconds: number; which: 'requests' | 'tokens' };

export interface QuotaStore {
  reserve(key: string, limits: QuotaLimit, estimatedTokens: number, now: Date): Promise<ReserveResult>;
  /** Adjusts the day's tokens by (actual − reserved); the request stays counted. */
  settle(reservation: Reservation, actualTokens: number): Promise<void>;
  /** Gives the whole reservation back (request and tokens): the request never reached a model. */
  release(reservation: Reservation): Promise<void>;
  close(): Promise<void>;
}

/** The UTC day of `now` as yyyymmdd. */
export function utcDay(now: Date): string {
  return now.toISOString().slice(0, 10).replaceAll('-', '');
}

/** Whole seconds until the next 00:00 UTC (at least 1), when every daily quota resets. */
export function secondsUntilUtcMidnight(now: Date): number {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.max(1, Math.ceil((next - now.getTime()) / 1000));
}

/** Tokens are whole and never negative, whatever a caller's estimate arithmetic produced. */
export function wholeTokens(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.ceil(n) : 0;
}
