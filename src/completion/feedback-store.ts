import { type Kysely, sql } from 'kysely';
import { storableJson } from '../storage/storable.js';
import type { Tables } from '../storage/tables.js';

export type CompletionAcception = 'accepted' | 'rejected' | 'canceled' | 'none';
export type CompletionCorrection = 'unchanged' | 'changed' | 'none';

/** One item of `POST /api/feedbacks/completions` `data[]`, as the extension sends it (times in epoch ms). */
export interface CompletionFeedbackItem {
  id: string;
  language: string;
  acception: CompletionAcception;
  correction: CompletionCorrection;
  actual_code?: string | null;
  create_time?: number | null;
  start_time?: number | null;
  end_time?: number | null;
  handle_time?: number | null;
  expend_time?: number | null;
}

/** The body of `POST /api/feedbacks/error`: counters plus a `status` object, stored as sent. */
export type ClientErrorReportBody = Record<string, unknown>;

// Keeps one statement well under PostgreSQL's 65535 bind parameters (11 per row).
const ROWS_PER_STATEMENT = 500;

/**
 * Stores completion feedback, de-duplicated by the client's point id.
 *
 * The extension re-sends a lone pending item every 3 s, first with `acception`/`correction`
 * `none` and later with the outcome. The rule, per column pair:
 * - a new id is inserted;
 * - a known id is left alone, except that a stored `none` acception is replaced by a final one
 *   from the incoming item, and likewise a stored `none` correction (together with
 *   `actual_code`); when that happens, empty times and the user are filled in and
 *   `updated_at` is set;
 * - a final value is never overwritten, so replays and out-of-order resends cannot flip an
 *   outcome, and plain resends write nothing;
 * - a row another user reported is never changed (the id is chosen by the client).
 * Several items with the same id in one call are merged by the same rule first.
 */
export async function recordCompletionFeedback(
  db: Kysely<Tables>,
  user: string | undefined,
  items: readonly CompletionFeedbackItem[],
): Promise<{ inserted: number; updated: number }> {
  const merged = mergeById(items);
  let inserted = 0;
  let updated = 0;
  for (let i = 0; i < merged.length; i += ROWS_PER_STATEMENT) {
    const rows = merged.slice(i, i + ROWS_PER_STATEMENT).map((item) => toRow(user, item));
    const written = await db
      .insertInto('completion_feedback')
      .values(rows)
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet({
            acception: sql`case when completion_feedback.acception = 'none' then excluded.acception else completion_feedback.acception end`,
            correction: sql`case when completion_feedback.correction = 'none' then excluded.correction else completion_feedback.correction end`,
            actual_code: sql`case when completion_feedback.correction = 'none' and excluded.correction <> 'none' then excluded.actual_code else completion_feedback.actual_code end`,
            user_name: sql`coalesce(completion_feedback.user_name, excluded.user_name)`,
            create_time: sql`coalesce(completion_feedback.create_time, excluded.create_time)`,
            start_time: sql`coalesce(completion_feedback.start_time, excluded.start_time)`,
            end_time: sql`coalesce(completion_feedback.end_time, excluded.end_time)`,
            handle_time: sql`coalesce(completion_feedback.handle_time, excluded.handle_time)`,
            expend_time: sql`coalesce(completion_feedback.expend_time, excluded.expend_time)`,
            updated_at: sql`now()`,
          })
          .where(({ eb, or, and, ref }) =>
            and([
              // Ids are the client's: another user's report under the same id is not theirs to change.
              or([
                eb('completion_feedback.user_name', 'is', null),
                eb('completion_feedback.user_name', '=', ref('excluded.user_name')),
              ]),
              or([
                and([
                  eb('completion_feedback.acception', '=', 'none'),
                  eb(ref('excluded.acception'), '<>', 'none'),
                ]),
                and([
                  eb('completion_feedback.correction', '=', 'none'),
                  eb(ref('excluded.correction'), '<>', 'none'),
                ]),
              ]),
            ]),
          ),
      )
      // xmax is 0 only on a freshly inserted row version; it tells inserts from updates in one round trip.
      .returning(sql<boolean>`xmax = 0`.as('inserted'))
      .execute();
    for (const row of written) {
      if (row.inserted) inserted++;
      else updated++;
    }
  }
  return { inserted, updated };
}

/** Stores one error-counter report. */
export async function recordClientErrorReport(
  db: Kysely<Tables>,
  user: string | undefined,
  body: ClientErrorReportBody,
): Promise<{ id: string }> {
  // Serialised here so both drivers send the same text; node-postgres would turn a top-level array into a PG array.
  return db
    .insertInto('client_error_report')
    .values({ user_name: user ?? null, body: sql<string>`cast(${storableJson(body)} as jsonb)` })
    .returning('id')
    .executeTakeFirstOrThrow();
}

function mergeById(items: readonly CompletionFeedbackItem[]): CompletionFeedbackItem[] {
  const byId = new Map<string, CompletionFeedbackItem>();
  for (const item of items) {
    const kept = byId.get(item.id);
    byId.set(item.id, kept ? mergeItems(kept, item) : item);
  }
  return [...byId.values()];
}

function mergeItems(kept: CompletionFeedbackItem, next: CompletionFeedbackItem): CompletionFeedbackItem {
  const acceptionFinalised = kept.acception === 'none' && next.acception !== 'none';
  const correctionFinalised = kept.correction === 'none' && next.correction !== 'none';
  if (!acceptionFinalised && !correctionFinalised) return kept;
  return {
    id: kept.id,
    language: kept.language,
    acception: acceptionFinalised ? next.acception : kept.acception,
    correction: correctionFinalised ? next.correction : kept.correction,
    actual_code: correctionFinalised ? next.actual_code : kept.actual_code,
    create_time: kept.create_time ?? next.create_time,
    start_time: kept.start_time ?? next.start_time,
    end_time: kept.end_time ?? next.end_time,
    handle_time: kept.handle_time ?? next.handle_time,
    expend_time: kept.expend_time ?? next.expend_time,
  };
}

function toRow(user: string | undefined, item: CompletionFeedbackItem) {
  return {
    id: item.id,
    user_name: user ?? null,
    language: item.language,
    acception: item.acception,
    correction: item.correction,
    actual_code: item.actual_code ?? null,
    create_time: msToDate(item.create_time),
    start_time: msToDate(item.start_time),
    end_time: msToDate(item.end_time),
    handle_time: msToDate(item.handle_time),
    expend_time: item.expend_time ?? null,
  };
}

function msToDate(ms: number | null | undefined): Date | null {
  return ms === null || ms === undefined ? null : new Date(ms);
}
