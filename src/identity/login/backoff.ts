import { LRUCache } from 'lru-cache';

/**
 * Slows down password guessing, per user name and per client address: after a failure beyond
 * the free ones, further attempts are refused (429 with Retry-After) until a delay has passed,
 * doubling with each failure: 1 s, 2 s, 4 s ... up to 5 minutes. Kept in memory in a bounded
 * LRU; a key with no failure for `forgetAfterMs` starts over. (The deployed shape can move this
 * to Redis behind the same methods.)
 */

export interface BackoffPolicy {
  /** Failures allowed before any delay (a single typo costs nothing). */
  freeFailures: number;
  baseMs: number;
  maxMs: number;
}

export interface LoginBackoffOptions {
  user?: BackoffPolicy;
  address?: BackoffPolicy;
  forgetAfterMs?: number;
  maxEntries?: number;
  now?: () => number;
}

/** A person mistyping once is not slowed down; from the second failure on, each doubles the wait. */
export const USER_POLICY: BackoffPolicy = { freeFailures: 1, baseMs: 1000, maxMs: 5 * 60_000 };
/** Several people can share an address (an office NAT), so it gets a few more free failures. */
export const ADDRESS_POLICY: BackoffPolicy = { freeFailures: 3, baseMs: 1000, maxMs: 5 * 60_000 };
const FORGET_AFTER_MS = 30 * 60_000;
const MAX_ENTRIES = 50_000;

interface Entry {
  failures: number;
  blockedUntil: number;
}

export interface AttemptKeys {
  user?: string | undefined;
  address: string;
}

export function delayAfter(failures: number, policy: BackoffPolicy): number {
  const over = failures - policy.freeFailures;
  if (over <= 0) return 0;
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(over - 1, 30));
}

export class LoginBackoff {
  private readonly entries: LRUCache<string, Entry>;
  private readonly user: BackoffPolicy;
  private readonly address: BackoffPolicy;
  private readonly now: () => number;

  constructor(opts: LoginBackoffOptions = {}) {
    this.user = opts.user ?? USER_POLICY;
    this.address = opts.address ?? ADDRESS_POLICY;
    this.now = opts.now ?? Date.now;
    this.entries = new LRUCache<string, Entry>({
      max: opts.maxEntries ?? MAX_ENTRIES,
      ttl: opts.forgetAfterMs ?? FORGET_AFTER_MS,
      ttlAutopurge: false,
      // Read the clock on every check (the default caches it for 1 ms, which hides the test clock).
      ttlResolution: 0,
      perf: { now: () => this.now() },
    });
  }

  private static keys(k: AttemptKeys): Array<[string, 'user' | 'address']> {
    const out: Array<[string, 'user' | 'address']> = [[`a:${k.address}`, 'address']];
    if (k.user) out.push([`u:${normalizeUserName(k.user)}`, 'user']);
    return out;
  }

  /** Milliseconds until an attempt for these keys may be checked; 0 when it may now. */
  retryAfterMs(k: AttemptKeys): number {
    const now = this.now();
    let wait = 0;
    for (const [key] of LoginBackoff.keys(k)) {
      const e = this.entries.get(key);
      if (e) wait = Math.max(wait, e.blockedUntil - now);
    }
    return Math.max(0, wait);
  }

  /** The larger failure count of the user name and the address. */
  failures(k: AttemptKeys): number {
    let n = 0;
    for (const [key] of LoginBackoff.keys(k)) n = Math.max(n, this.entries.get(key)?.failures ?? 0);
    return n;
  }

  recordFailure(k: AttemptKeys): void {
    const now = this.now();
    for (const [key, kind] of LoginBackoff.keys(k)) {
      const failures = (this.entries.get(key)?.failures ?? 0) + 1;
      const delay = delayAfter(failures, kind === 'user' ? this.user : this.address);
      this.entries.set(key, { failures, blockedUntil: now + delay });
    }
  }

  /** A successful login clears the user name's record (the address's stays: it may be shared). */
  recordSuccess(user: string): void {
    this.entries.delete(`u:${normalizeUserName(user)}`);
  }
}

/** Case and Unicode variants of one name share a record, so they cannot be used to dodge it. */
function normalizeUserName(name: string): string {
  return name.normalize('NFKC').trim().toLowerCase();
}
