import { sql } from 'kysely';
import type { Migration } from './migration.js';

/** The extension's error counters (`POST /api/feedbacks/error`), kept as sent. */
export const clientErrorReport: Migration = {
  name: '0002_client_error_report',
  async up(db) {
    await db.schema
      .createTable('client_error_report')
      .addColumn('id', 'bigserial', (col) => col.primaryKey())
      .addColumn('user_name', 'text')
      .addColumn('body', 'jsonb', (col) => col.notNull())
      .addColumn('received_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .execute();
    await db.schema
      .createIndex('client_error_report_received_at_idx')
      .on('client_error_report')
      .column('received_at')
      .execute();
  },
};
