import { sql } from 'kysely';
import type { Migration } from './migration.js';

/**
 * A one-row table that /readyz writes to: a server whose database can still be read but no longer
 * written (full disk, read-only mode) must not call itself ready, since logins and chats write.
 */
export const readinessProbe: Migration = {
  name: '0007_readiness_probe',
  async up(db) {
    await db.schema
      .createTable('shenma_readiness')
      .addColumn('id', 'smallint', (col) => col.primaryKey())
      .addColumn('checked_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .execute();
  },
};
