import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase } from '../../../test/support/database.js';
import { migrate } from '../migrate.js';
import { MIGRATIONS } from './index.js';

describe('migration 0006_ledger_entry_and_retention', () => {
  let test: Awaited<ReturnType<typeof openTestDatabase>>;
  beforeAll(async () => {
    test = await openTestDatabase('m0005', { migrated: false });
    await migrate(
      test.database.db,
      MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.name === '0004_chat') + 1),
    );
    // Rows written before the migration, as 0004 stored them.
    for (const requestId of ['old-1', 'old-2']) {
      await sql`insert into usage_ledger (request_id, user_id, user_name, model, route, prompt_tokens,
        completion_tokens, estimated, total_ms, status)
        values (${requestId}, 'u', 'alice', 'm', 'openai', 1, 1, false, 5, 'ok')`.execute(test.database.db);
    }
    expect((await migrate(test.database.db)).applied).toContain('0006_ledger_entry_and_retention');
  });
  afterAll(() => test.close());

  it('gives existing rows distinct entry ids and lets a request id repeat', async () => {
    const { rows } = await sql<{ entry_id: string }>`select entry_id from usage_ledger`.execute(
      test.database.db,
    );
    expect(rows).toHaveLength(2);
    expect(new Set(rows.map((r) => r.entry_id)).size).toBe(2);
    await sql`insert into usage_ledger (request_id, user_id, user_name, model, route, prompt_tokens,
      completion_tokens, estimated, total_ms, status)
      values ('old-1', 'u', 'alice', 'm', 'openai', 1, 1, false, 5, 'ok')`.execute(test.database.db);
    const again = await sql<{
      n: string;
    }>`select count(*) as n from usage_ledger where request_id = 'old-1'`.execute(test.database.db);
    expect(Number(again.rows[0]!.n)).toBe(2);
  });

  it('refuses a repeated entry id', async () => {
    const { rows } = await sql<{ entry_id: string }>`select entry_id from usage_ledger limit 1`.execute(
      test.database.db,
    );
    await expect(
      sql`insert into usage_ledger (entry_id, request_id, user_id, user_name, model, route, prompt_tokens,
        completion_tokens, estimated, total_ms, status)
        values (${rows[0]!.entry_id}, 'x', 'u', 'alice', 'm', 'openai', 1, 1, false, 5, 'ok')`.execute(
        test.database.db,
      ),
    ).rejects.toMatchObject({ code: '23505' });
  });
});
