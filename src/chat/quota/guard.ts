import type { QuotasConfig } from '../../config/schema.js';
import { HttpError } from '../../http/errors.js';
import type { ChatContext } from '../types.js';
import type { QuotaLimit, QuotaStore, Reservation } from './store.js';

/** One counter a request is charged to: the user's own, or a group's shared one. */
export interface QuotaScope {
  /** The store key: `user:<name>` or `group:<name>`. */
  key: string;
  kind: 'user' | 'group';
  name: string;
  limits: QuotaLimit;
}

/**
 * The counters a user's request is charged to, each with its limits. The user's own limit is
 * `quotas.users[name]` where set, field by field, else `quotas.default` (a per-user entry can
 * raise as well as lower one person's limit). Each group listing the user adds a counter shared
 * by all its members. A request must fit every counter, so the tightest one decides.
 */
export function quotaScopesFor(config: QuotasConfig, userName: string): QuotaScope[] {
  const scopes: QuotaScope[] = [];
  const own = config.users[userName];
  const user: QuotaLimit = {
    requests: own?.requestsPerDay ?? config.default.requestsPerDay,
    tokens: own?.tokensPerDay ?? config.default.tokensPerDay,
  };
  if (hasLimit(user)) scopes.push({ key: `user:${userName}`, kind: 'user', name: userName, limits: user });
  // Sorted, so every request takes group counters in the same order.
  for (const name of Object.keys(config.groups).sort()) {
    const group = config.groups[name]!;
    if (!group.members.includes(userName)) continue;
    const limits: QuotaLimit = { requests: group.requestsPerDay, tokens: group.tokensPerDay };
    if (hasLimit(limits)) scopes.push({ key: `group:${name}`, kind: 'group', name, limits });
  }
  return scopes;
}

export interface QuotaGuard {
  /**
   * Takes one request and `estimatedTokens` from every counter the user is charged to, or none
   * of them: throws HttpError 429 (Retry-After: until 00:00 UTC) when one is spent, 503 when the
   * store cannot be reached. Estimate generously (prompt + max answer tokens): the estimate is
   * what keeps concurrent requests from overspending.
   */
  admit(ctx: Pick<ChatContext, 'user'>, estimatedTokens: number): Promise<Reservation[]>;
  /** Replaces the estimate with the tokens the answer really used (prompt + completion). */
  settle(reservations: readonly Reservation[], actualTokens: number): Promise<void>;
  /** Gives everything back: the request was refused or failed before reaching a model. */
  release(reservations: readonly Reservation[]): Promise<void>;
}

export function createQuotaGuard(
  config: QuotasConfig,
  store: QuotaStore,
  clock: () => Date = () => new Date(),
): QuotaGuard {
  const release = async (reservations: readonly Reservation[]) => {
    await Promise.all(reservations.map((r) => store.release(r)));
  };
  return {
    async admit(ctx, estimatedTokens) {
      const scopes = quotaScopesFor(config, ctx.user.name);
      if (scopes.length === 0) return [];
      const now = clock();
      const taken: Reservation[] = [];
      for (const scope of scopes) {
        let result: Awaited<ReturnType<QuotaStore['reserve']>>;
        try {
          result = await store.reserve(scope.key, scope.limits, estimatedTokens, now);
        } catch (err) {
          await release(taken).catch(() => {});
          const reason = err instanceof Error ? err.message : String(err);
          throw new HttpError(503, 'server_error', `quota store unavailable: ${reason}`, undefined, 5);
        }
        if (!result.ok) {
          // Give back what the earlier counters took, so a refused request costs nothing.
          await release(taken).catch(() => {});
          throw new HttpError(
            429,
            'rate_limit_error',
            spentMessage(scope, result.which, estimatedTokens),
            undefined,
            result.retryAfterSeconds,
          );
        }
        taken.push(result.reservation);
      }
      return taken;
    },
    async settle(reservations, actualTokens) {
      await Promise.all(reservations.map((r) => store.settle(r, actualTokens)));
    },
    release,
  };
}

function spentMessage(scope: QuotaScope, which: 'requests' | 'tokens', estimatedTokens: number): string {
  const who = scope.kind === 'user' ? `user ${scope.name}` : `group ${scope.name}`;
  if (which === 'requests') {
    return `daily request quota spent: ${who} may make ${scope.limits.requests} chat requests per UTC day; it resets at 00:00 UTC`;
  }
  return (
    `daily token quota spent: ${who} may use ${scope.limits.tokens} tokens per UTC day and this request ` +
    `needs up to ${Math.ceil(estimatedTokens)} more; it resets at 00:00 UTC`
  );
}

function hasLimit(limits: QuotaLimit): boolean {
  return limits.requests !== undefined || limits.tokens !== undefined;
}
