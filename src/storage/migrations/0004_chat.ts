import { sql } from 'kysely';
import type { Migration } from './migration.js';

/**
 * Chat: server-side conversation history scoped by user, the usage ledger (one row per request,
 * every route), and the chat webview's feedback reports.
 */
export const chat: Migration = {
  name: '0004_chat',
  async up(db) {
    await db.schema
      .createTable('conversations')
      .addColumn('id', 'text', (col) => col.primaryKey())
      // No foreign key to users: with an external issuer or a trusted gateway, users need not have a row.
      .addColumn('user_id', 'text', (col) => col.notNull())
      // The id the client chose; only meaningful together with user_id (never readable across users).
      .addColumn('client_conversation_id', 'text', (col) => col.notNull())
      .addColumn('title', 'text')
      .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .addUniqueConstraint('conversations_user_client_id_key', ['user_id', 'client_conversation_id'])
      .execute();

    await db.schema
      .createTable('chat_messages')
      .addColumn('id', 'bigserial', (col) => col.primaryKey())
      .addColumn('conversation_id', 'text', (col) =>
        col.notNull().references('conversations.id').onDelete('cascade'),
      )
      .addColumn('role', 'text', (col) => col.notNull())
      .addColumn('content', 'text', (col) => col.notNull())
      .addColumn('tokens', 'integer', (col) => col.notNull())
      .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .execute();
    // History is read newest first within one conversation.
    await db.schema
      .createIndex('chat_messages_conversation_idx')
      .on('chat_messages')
      .columns(['conversation_id', 'id'])
      .execute();

    await db.schema
      .createTable('usage_ledger')
      .addColumn('id', 'bigserial', (col) => col.primaryKey())
      .addColumn('request_id', 'text', (col) => col.notNull().unique())
      .addColumn('user_id', 'text', (col) => col.notNull())
      .addColumn('user_name', 'text', (col) => col.notNull())
      .addColumn('model', 'text', (col) => col.notNull())
      .addColumn('route', 'text', (col) =>
        col.notNull().check(sql`route in ('completion', 'openai', 'socket')`),
      )
      .addColumn('prompt_tokens', 'integer', (col) => col.notNull())
      .addColumn('completion_tokens', 'integer', (col) => col.notNull())
      .addColumn('estimated', 'boolean', (col) => col.notNull())
      .addColumn('first_token_ms', 'integer')
      .addColumn('total_ms', 'integer', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull())
      .addColumn('error', 'text')
      .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .execute();
    await db.schema
      .createIndex('usage_ledger_user_created_idx')
      .on('usage_ledger')
      .columns(['user_id', 'created_at'])
      .execute();
    await db.schema.createIndex('usage_ledger_created_idx').on('usage_ledger').column('created_at').execute();

    await db.schema
      .createTable('chat_feedback')
      .addColumn('id', 'bigserial', (col) => col.primaryKey())
      .addColumn('kind', 'text', (col) => col.notNull().check(sql`kind in ('evaluate', 'use_code', 'issue')`))
      .addColumn('user_name', 'text')
      .addColumn('conversation_id', 'text')
      .addColumn('body', 'jsonb', (col) => col.notNull())
      .addColumn('received_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .execute();
    await db.schema
      .createIndex('chat_feedback_conversation_idx')
      .on('chat_feedback')
      .column('conversation_id')
      .execute();
  },
};
