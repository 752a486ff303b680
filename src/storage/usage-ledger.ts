import { type Kysely, sql } from 'kysely';
import type { Tables, UsageLedgerTable } from './tables.js';

/** One request as the ledger records it. */
export interface UsageRecord {
  requestId: string;
  userId: string;
  userName: string;
  model: string;
  route: UsageLedgerTable['route'];
  promptTokens: number;
  completionTokens: number;
  /** The counts are local estimates (the upstream reported no usage). */
  estimated: boolean;
  firstTokenMs?: number | undefined;
  totalMs: number;
  status: string;
  error?: string | undefined;
  /** Defaults to the database's now(). */
  createdAt?: Date;
}

export interface DailyUsage {
  requests: number;
  tokens: number;
}

/** Statuses of requests that never reached a model; they are recorded but not counted as usage. */
const NOT_SERVED = ['quota_exceeded', 'rejected'];

/**
 * The usage ledger: one row per chat or completion request, so usage per user covers both
 * features. The chat pipeline awaits its row in the `record` hook, before the client is told the
 * answer finished, so an answer the user saw is never missing from the ledger (an in-memory batch
 * would lose rows on a crash); completion batches its rows (CompletionMeter) so the editor never
 * waits and the ledger costs a completion little.
 */
export class UsageLedger {
  /** Rows waiting for the insert in flight to finish; they go together in the next one. */
  private queue: { row: UsageRecord; resolve(): void; reject(err: unknown): void }[] = [];
  private writing = false;

  constructor(private readonly db: Kysely<Tables>) {}

  /**
   * Inserts the row; a second record with the same request id is ignored (retries are safe).
   * Resolves once the row is committed. Rows arriving while an insert is in flight are committed
   * together in the next statement (group commit): one statement per busy moment instead of one
   * per request, with no added wait when the ledger is idle.
   */
  record(row: UsageRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.insert(batch.map((b) => b.row));
          for (const b of batch) b.resolve();
        } catch (err) {
          if (batch.length === 1) {
            batch[0]!.reject(err);
            continue;
          }
          // One bad row must not fail everyone's answer: retry them one by one.
          for (const b of batch) {
            try {
              await this.insert([b.row]);
              b.resolve();
            } catch (rowErr) {
              b.reject(rowErr);
            }
          }
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private async insert(rows: UsageRecord[]): Promise<void> {
    await this.db
      .insertInto('usage_ledger')
      .values(
        rows.map((row) => ({
          request_id: row.requestId,
          user_id: row.userId,
          user_name: row.userName,
          model: row.model,
          route: row.route,
          prompt_tokens: nonNegativeInt(row.promptTokens),
          completion_tokens: nonNegativeInt(row.completionTokens),
          estimated: row.estimated,
          first_token_ms: row.firstTokenMs === undefined ? null : nonNegativeInt(row.firstTokenMs),
          total_ms: nonNegativeInt(row.totalMs),
          status: row.status,
          error: row.error === undefined ? null : row.error.replaceAll('\u0000', '').slice(0, 2000),
          ...(row.createdAt ? { created_at: row.createdAt } : {}),
        })),
      )
      .onConflict((oc) => oc.column('request_id').doNothing())
      .execute();
  }

  /** Requests served and tokens used by the user since 00:00 UTC of `now`'s day. */
  async usageToday(userId: string, now: Date = new Date()): Promise<DailyUsage> {
    const dayStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    const row = await this.db
      .selectFrom('usage_ledger')
      .where('user_id', '=', userId)
      .where('created_at', '>=', dayStart)
      .where('status', 'not in', NOT_SERVED)
      .select([
        sql<string>`count(*)`.as('requests'),
        sql<string>`coalesce(sum(prompt_tokens::bigint + completion_tokens), 0)`.as('tokens'),
      ])
      .executeTakeFirstOrThrow();
    return { requests: Number(row.requests), tokens: Number(row.tokens) };
  }
}

function nonNegativeInt(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}
