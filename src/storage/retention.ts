import type { FastifyBaseLogger } from 'fastify';
import { type Kysely, sql } from 'kysely';
import type { Tables } from './tables.js';

/**
 * Keeps the tables that clients write without bound (completion feedback, error counters, chat
 * feedback and issue reports) from growing forever: rows older than `maxAgeDays` go, and past
 * `maxRows` the oldest go. Runs on a timer, never on a request's path.
 */

export const RETAINED_TABLES = ['completion_feedback', 'client_error_report', 'chat_feedback'] as const;
export type RetainedTable = (typeof RETAINED_TABLES)[number];

export interface RetentionPolicy {
  maxAgeDays: number;
  /** Per table. */
  maxRows: number;
}

/** Deletes what the policy no longer keeps; returns the rows deleted per table. */
export async function pruneFeedback(
  db: Kysely<Tables>,
  policy: RetentionPolicy,
  now: Date = new Date(),
): Promise<Record<RetainedTable, number>> {
  const cutoff = new Date(now.getTime() - policy.maxAgeDays * 86_400_000);
  const deleted = {} as Record<RetainedTable, number>;
  for (const table of RETAINED_TABLES) {
    const t = sql.table(table);
    const byAge = await sql`delete from ${t} where received_at < ${cutoff}`.execute(db);
    // The (maxRows+1)th newest row and everything older; ties at that instant go too.
    const byCount = await sql`
      delete from ${t} where received_at <= (
        select received_at from ${t} order by received_at desc offset ${policy.maxRows} limit 1
      )`.execute(db);
    deleted[table] = Number(byAge.numAffectedRows ?? 0n) + Number(byCount.numAffectedRows ?? 0n);
  }
  return deleted;
}

/** Prunes shortly after start and then every `everyMs`; `stop()` waits for a run in progress. */
export function startRetention(
  db: Kysely<Tables>,
  policy: RetentionPolicy,
  log: FastifyBaseLogger,
  everyMs = 3_600_000,
): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const run = () => {
    if (running) return;
    running = pruneFeedback(db, policy)
      .then((deleted) => {
        if (Object.values(deleted).some((n) => n > 0))
          log.info({ deleted }, 'retention pruned feedback rows');
      })
      .catch((err) => log.warn({ err }, 'retention could not prune feedback rows'))
      .finally(() => {
        running = undefined;
      });
  };
  const first = setTimeout(run, 5_000);
  const timer = setInterval(run, everyMs);
  first.unref();
  timer.unref();
  return {
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
