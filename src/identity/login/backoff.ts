import { createHash } from 'node:crypto';
import type { EphemeralStore } from '../../storage/ephemeral.js';

/**
 * Slows down password guessing without letting anyone lock a user out. Failures are counted per
 * (user name, address) pair, per address, and per user name:
 * - the pair and the address are delayed: after the free failures each attempt waits, doubling
 *   1 s, 2 s, 4 s ... up to 5 minutes. A pair is one person at one place, so it gets one free
 *   typo; an address may be a whole office behind one NAT, so it gets many (30);
 * - the user name alone is never delayed (that would let anyone lock its owner out from
 *   elsewhere): many failures for it, from anywhere, only make the login page ask for a captcha.
 * Counts live in the shared short-lived store (Redis with several replicas) and are forgotten
 * after a quiet period. User names are stored hashed: a typed "name" may be a password.
 */

export interface BackoffPolicy {
  /** Failures allowed before any delay. */
  freeFailures: number;
  baseMs: number;
  maxMs: number;
}

/** A person mistyping once is not slowed down; from the second failure on, each doubles the wait. */
export const PAIR_POLICY: BackoffPolicy = { freeFailures: 1, baseMs: 1000, maxMs: 5 * 60_000 };
/** Much higher: dozens of people share an office address. */
export const ADDRESS_POLICY: BackoffPolicy = { freeFailures: 30, baseMs: 1000, maxMs: 5 * 60_000 };

export interface LoginBackoffOptions {
  pair?: BackoffPolicy;
  address?: BackoffPolicy;
  forgetAfterMs?: number;
  now?: () => number;
}

export interface AttemptKeys {
  user?: string | undefined;
  address: string;
}

export interface AttemptStatus {
  /** Milliseconds until an attempt may be checked; 0 when it may now. */
  retryAfterMs: number;
  pairFailures: number;
  addressFailures: number;
  userFailures: number;
}

const FORGET_AFTER_MS = 30 * 60_000;
const PREFIX = 'login-backoff:';

export function delayAfter(failures: number, policy: BackoffPolicy): number {
  const over = failures - policy.freeFailures;
  if (over <= 0) return 0;
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(over - 1, 30));
}

type Kind = 'pair' | 'address' | 'user';

export class LoginBackoff {
  private readonly policies: Record<Exclude<Kind, 'user'>, BackoffPolicy>;
  private readonly forgetAfterMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: EphemeralStore,
    opts: LoginBackoffOptions = {},
  ) {
    this.policies = { pair: opts.pair ?? PAIR_POLICY, address: opts.address ?? ADDRESS_POLICY };
    this.forgetAfterMs = opts.forgetAfterMs ?? FORGET_AFTER_MS;
    this.now = opts.now ?? Date.now;
  }

  private static keys(k: AttemptKeys): Partial<Record<Kind, string>> {
    const address = `a:${k.address}`;
    if (!k.user) return { address };
    const user = `u:${userNameKey(k.user)}`;
    return { address, user, pair: `p:${userNameKey(k.user)}@${k.address}` };
  }

  async status(k: AttemptKeys): Promise<AttemptStatus> {
    const keys = LoginBackoff.keys(k);
    const now = this.now();
    const count = async (key?: string) =>
      key ? Number((await this.store.get(`${PREFIX}f:${key}`)) ?? 0) : 0;
    const until = async (key?: string) =>
      key ? Number((await this.store.get(`${PREFIX}b:${key}`)) ?? 0) : 0;
    const [pairFailures, addressFailures, userFailures, pairUntil, addressUntil] = await Promise.all([
      count(keys.pair),
      count(keys.address),
      count(keys.user),
      until(keys.pair),
      until(keys.address),
    ]);
    return {
      retryAfterMs: Math.max(0, pairUntil - now, addressUntil - now),
      pairFailures,
      addressFailures,
      userFailures,
    };
  }

  /** A wrong password (or unknown name): counts for the pair, the address and the name. */
  async recordFailure(k: AttemptKeys): Promise<void> {
    const keys = LoginBackoff.keys(k);
    await Promise.all([
      this.count(keys.address!, this.policies.address),
      keys.pair ? this.count(keys.pair, this.policies.pair) : undefined,
      keys.user ? this.store.increment(`${PREFIX}f:${keys.user}`, this.forgetAfterMs) : undefined,
    ]);
  }

  /** A success clears this pair's record; the address's and the name's stay (others may be guessing). */
  async recordSuccess(k: AttemptKeys): Promise<void> {
    const pair = LoginBackoff.keys(k).pair;
    if (!pair) return;
    await Promise.all([this.store.delete(`${PREFIX}f:${pair}`), this.store.delete(`${PREFIX}b:${pair}`)]);
  }

  private async count(key: string, policy: BackoffPolicy): Promise<void> {
    const failures = await this.store.increment(`${PREFIX}f:${key}`, this.forgetAfterMs);
    const delay = delayAfter(failures, policy);
    if (delay > 0) await this.store.put(`${PREFIX}b:${key}`, String(this.now() + delay), this.forgetAfterMs);
  }
}

/** Case and Unicode variants of one name share a record; the name itself is not kept. */
export function userNameKey(name: string): string {
  return createHash('sha256')
    .update(name.normalize('NFKC').trim().toLowerCase())
    .digest('base64url')
    .slice(0, 22);
}
