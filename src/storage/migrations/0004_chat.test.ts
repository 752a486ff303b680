import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase } from '../../../test/support/database.js';
import { migrate } from '../migrate.js';
import { MIGRATIONS } from './index.js';

describe('migration 0004_chat', () => {
  let test: Awaited<ReturnType<typeof openTestDatabase>>;
  beforeAll(async () => {
    test = await openTestDatabase('m0004', { migrated: false });
    // Up to 0004 only: later migrations change these tables and have their own tests.
    const upTo = MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.name === '0004_chat') + 1);
    expect((await migrate(test.database.db, upTo)).applied).toContain('0004_chat');
  });
  afterAll(() => test.close());

  it('creates the chat tables with their columns', async () => {
    const { rows } = await sql<{
      table_name: string;
      column_name: string;
      data_type: string;
      is_nullable: string;
    }>`
      select table_name, column_name, data_type, is_nullable from information_schema.columns
      where table_schema = current_schema()
        and table_name in ('conversations', 'chat_messages', 'usage_ledger', 'chat_feedback')
      order by table_name, ordinal_position`.execute(test.database.db);
    const shape = (table: string) =>
      rows
        .filter((r) => r.table_name === table)
        .map((r) => `${r.column_name} ${r.data_type}${r.is_nullable === 'NO' ? ' not null' : ''}`);
    expect(shape('conversations')).toEqual([
      'id text not null',
      'user_id text not null',
      'client_conversation_id text not null',
      'title text',
      'created_at timestamp with time zone not null',
      'updated_at timestamp with time zone not null',
    ]);
    expect(shape('chat_messages')).toEqual([
      'id bigint not null',
      'conversation_id text not null',
      'role text not null',
      'content text not null',
      'tokens integer not null',
      'created_at timestamp with time zone not null',
    ]);
    expect(shape('usage_ledger')).toEqual([
      'id bigint not null',
      'request_id text not null',
      'user_id text not null',
      'user_name text not null',
      'model text not null',
      'route text not null',
      'prompt_tokens integer not null',
      'completion_tokens integer not null',
      'estimated boolean not null',
      'first_token_ms integer',
      'total_ms integer not null',
      'status text not null',
      'error text',
      'created_at timestamp with time zone not null',
    ]);
    expect(shape('chat_feedback')).toEqual([
      'id bigint not null',
      'kind text not null',
      'user_name text',
      'conversation_id text',
      'body jsonb not null',
      'received_at timestamp with time zone not null',
    ]);
  });

  it('indexes the ledger by user and day, and by time', async () => {
    const { rows } = await sql<{ indexdef: string }>`
      select indexdef from pg_indexes where schemaname = current_schema() and tablename = 'usage_ledger'
      order by indexname`.execute(test.database.db);
    const defs = rows.map((r) => r.indexdef.replace(/^.* USING btree /, ''));
    expect(defs).toEqual(expect.arrayContaining(['(created_at)', '(user_id, created_at)', '(request_id)']));
  });

  it('keeps one conversation per user and client id, and deletes its messages with it', async () => {
    const db = test.database.db;
    await db
      .insertInto('conversations')
      .values({ id: 'c1', user_id: 'u1', client_conversation_id: 'x' })
      .execute();
    await expect(
      db
        .insertInto('conversations')
        .values({ id: 'c2', user_id: 'u1', client_conversation_id: 'x' })
        .execute(),
    ).rejects.toThrow();
    await db
      .insertInto('conversations')
      .values({ id: 'c3', user_id: 'u2', client_conversation_id: 'x' })
      .execute();
    await db
      .insertInto('chat_messages')
      .values({ conversation_id: 'c1', role: 'user', content: 'hi', tokens: 1 })
      .execute();
    await db.deleteFrom('conversations').where('id', '=', 'c1').execute();
    const left = await db
      .selectFrom('chat_messages')
      .where('conversation_id', '=', 'c1')
      .selectAll()
      .execute();
    expect(left).toEqual([]);
  });

  it('accepts only the known feedback kinds', async () => {
    await expect(
      sql`insert into chat_feedback (kind, body) values ('spam', '{}'::jsonb)`.execute(test.database.db),
    ).rejects.toThrow();
  });
});
