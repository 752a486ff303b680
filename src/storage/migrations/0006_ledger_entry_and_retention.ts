import { sql } from 'kysely';
import type { Migration } from './migration.js';

/**
 * The usage ledger is keyed on a server-made entry id instead of the request id: the request id
 * is the client's `x-request-id` (any client can repeat it) or a per-process counter, and keying
 * on it silently dropped answered requests. The request id stays as a plain, indexed column.
 * The feedback tables get an index on `received_at` so retention can prune them cheaply.
 */
export const ledgerEntryAndRetention: Migration = {
  name: '0006_ledger_entry_and_retention',
  async up(db) {
    // Rows written before this migration get a fresh id; new rows carry the one Shenma made.
    await db.schema
      .alterTable('usage_ledger')
      .addColumn('entry_id', 'uuid', (col) => col.notNull().defaultTo(sql`gen_random_uuid()`))
      .execute();
    await db.schema
      .alterTable('usage_ledger')
      .addUniqueConstraint('usage_ledger_entry_id_key', ['entry_id'])
      .execute();
    await db.schema.alterTable('usage_ledger').dropConstraint('usage_ledger_request_id_key').execute();
    await db.schema.createIndex('usage_ledger_request_idx').on('usage_ledger').column('request_id').execute();

    for (const table of ['completion_feedback', 'client_error_report', 'chat_feedback']) {
      await db.schema.createIndex(`${table}_received_idx`).on(table).column('received_at').execute();
    }
  },
};
