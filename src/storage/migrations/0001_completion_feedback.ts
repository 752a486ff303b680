import { sql } from 'kysely';
import type { Migration } from './migration.js';

/** Completion accept/reject telemetry from the IDE (`POST /api/feedbacks/completions`). */
export const completionFeedback: Migration = {
  name: '0001_completion_feedback',
  async up(db) {
    await db.schema
      .createTable('completion_feedback')
      // The client's completion point id; the client re-sends items, so this is the dedupe key.
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('user_name', 'text')
      .addColumn('language', 'text', (col) => col.notNull())
      .addColumn('acception', 'text', (col) => col.notNull())
      .addColumn('correction', 'text', (col) => col.notNull())
      .addColumn('actual_code', 'text')
      .addColumn('create_time', 'timestamptz')
      .addColumn('start_time', 'timestamptz')
      .addColumn('end_time', 'timestamptz')
      .addColumn('handle_time', 'timestamptz')
      .addColumn('expend_time', 'integer')
      .addColumn('received_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .addColumn('updated_at', 'timestamptz')
      .execute();
    // Dashboards and retention both cut by arrival time.
    await db.schema
      .createIndex('completion_feedback_received_at_idx')
      .on('completion_feedback')
      .column('received_at')
      .execute();
  },
};
