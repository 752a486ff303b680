import { type Kysely, sql } from 'kysely';
import type { Migration } from './migration.js';

/**
 * The chat APIs added beside Chat Completions: the usage ledger names the OpenAI Responses API
 * and the Anthropic Messages API as routes of their own, and stored Responses (for
 * `previous_response_id` and `item_reference`) get a table. A stored response keeps its turn in
 * Chat Completions form (tool calls and their ids included, which the text-only conversation
 * history cannot hold) and its output items as the client saw them.
 */
export const chatApis: Migration = {
  name: '0005_chat_apis',
  async up(db: Kysely<unknown>) {
    await sql`alter table usage_ledger drop constraint usage_ledger_route_check`.execute(db);
    await sql`alter table usage_ledger add constraint usage_ledger_route_check
      check (route in ('completion', 'openai', 'socket', 'responses', 'anthropic'))`.execute(db);
    await db.schema
      .createTable('stored_responses')
      .addColumn('id', 'text', (col) => col.primaryKey())
      // Scoped like conversations: a response id from another user is not found.
      .addColumn('user_id', 'text', (col) => col.notNull())
      .addColumn('previous_id', 'text')
      .addColumn('model', 'text', (col) => col.notNull())
      .addColumn('messages', 'jsonb', (col) => col.notNull())
      .addColumn('items', 'jsonb', (col) => col.notNull())
      .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .execute();
    await db.schema
      .createIndex('stored_responses_user_idx')
      .on('stored_responses')
      .columns(['user_id', 'created_at'])
      .execute();
    // Old responses are deleted by age.
    await db.schema
      .createIndex('stored_responses_created_idx')
      .on('stored_responses')
      .column('created_at')
      .execute();
  },
};
