import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { type Kysely, sql } from 'kysely';
import { Counter, type Registry } from 'prom-client';
import type { Tables, UsageLedgerTable } from './tables.js';

/** One request as the ledger records it. */
export interface UsageRecord {
  /** The row's own id; made by the ledger when absent. */
  entryId?: string;
  /** The request's id as the client (x-request-id, chat id) or the server named it; not unique. */
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

/** A ledger row whose entry id is already stored: a bug, never a normal retry. */
export class LedgerConflictError extends Error {
  override readonly name = 'LedgerConflictError';
  constructor(readonly entryId: string) {
    super(`usage ledger entry ${entryId} is already recorded`);
  }
}

export interface UsageLedgerOptions {
  /** Where the conflict counter is registered. */
  registry?: Registry;
  log?: FastifyBaseLogger;
}

type QueuedRow = UsageRecord & { entryId: string };

const CONFLICTS_METRIC = 'shenma_usage_ledger_conflicts_total';

/**
 * The usage ledger: one row per chat or completion request, so usage per user covers both
 * features. The chat pipeline awaits its row in the `record` hook, before the client is told the
 * answer finished, so an answer the user saw is never missing from the ledger (an in-memory batch
 * would lose rows on a crash); completion batches its rows (CompletionMeter) so the editor never
 * waits and the ledger costs a completion little.
 *
 * Rows are keyed on an id the ledger makes, never on the request id: clients may repeat their
 * `x-request-id`, and a server's request counter starts again with every process, so keying on
 * either silently dropped answered requests.
 */
export class UsageLedger {
  /** Rows waiting for the insert in flight to finish; they go together in the next one. */
  private queue: { row: QueuedRow; resolve(id: string): void; reject(err: unknown): void }[] = [];
  private writing = false;
  private readonly conflicts: Counter | undefined;

  constructor(
    private readonly db: Kysely<Tables>,
    private readonly opts: UsageLedgerOptions = {},
  ) {
    // Chat and completion each keep a ledger; they share the one counter of the registry.
    this.conflicts = opts.registry
      ? ((opts.registry.getSingleMetric(CONFLICTS_METRIC) as Counter | undefined) ??
        new Counter({
          name: CONFLICTS_METRIC,
          help: 'Ledger rows refused because their entry id was already stored (a bug: rows must never collide)',
          registers: [opts.registry],
        }))
      : undefined;
  }

  /**
   * Inserts the row and resolves with its entry id once committed. Rows arriving in the same
   * event-loop turn, or while an insert is in flight, are committed together in the next statement
   * (group commit): one statement per busy moment instead of one per request, with no timer wait
   * when the ledger is idle. An entry
   * id that is already stored rejects with LedgerConflictError, logged and counted.
   */
  record(row: UsageRecord): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.queue.push({ row: { ...row, entryId: row.entryId ?? randomUUID() }, resolve, reject });
      if (!this.writing) {
        // The first row waits for the end of this event-loop turn (setImmediate runs right after
        // the I/O callbacks), so the rows of answers that finished in the same turn share one
        // statement even when the database is idle. Adds no timer wait.
        this.writing = true;
        setImmediate(() => void this.drain());
      }
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
          for (const b of batch) b.resolve(b.row.entryId);
        } catch (err) {
          if (batch.length === 1) {
            batch[0]!.reject(this.failure(batch[0]!.row, err));
            continue;
          }
          // One bad row must not fail everyone's answer: retry them one by one.
          for (const b of batch) {
            try {
              await this.insert([b.row]);
              b.resolve(b.row.entryId);
            } catch (rowErr) {
              b.reject(this.failure(b.row, rowErr));
            }
          }
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /** A duplicate entry id is an error that is logged and counted; other errors pass as they are. */
  private failure(row: QueuedRow, err: unknown): unknown {
    if (!isUniqueViolation(err)) return err;
    this.conflicts?.inc();
    this.opts.log?.error(
      { entryId: row.entryId, requestId: row.requestId, route: row.route },
      'usage ledger conflict: the entry id is already recorded; this row was not written',
    );
    return new LedgerConflictError(row.entryId);
  }

  private async insert(rows: QueuedRow[]): Promise<void> {
    await this.db
      .insertInto('usage_ledger')
      .values(
        rows.map((row) => ({
          entry_id: row.entryId,
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

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

function nonNegativeInt(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}
