import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase } from '../../test/support/database.js';
import { pruneFeedback } from './retention.js';

describe('feedback retention', () => {
  let test: Awaited<ReturnType<typeof openTestDatabase>>;
  beforeAll(async () => {
    test = await openTestDatabase('retention');
  });
  afterAll(() => test.close());

  it('deletes rows past the age limit and the oldest rows past the row cap, in every feedback table', async () => {
    const db = test.database.db;
    const now = new Date('2030-06-30T12:00:00Z');
    const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000);
    // Ages in days: two too old, five within the age limit.
    const ages = [400, 200, 50, 40, 30, 20, 10];
    for (const [i, age] of ages.entries()) {
      await sql`insert into client_error_report (user_name, body, received_at)
        values ('u', '{}'::jsonb, ${daysAgo(age)})`.execute(db);
      await sql`insert into chat_feedback (kind, body, received_at)
        values ('issue', '{}'::jsonb, ${daysAgo(age)})`.execute(db);
      await sql`insert into completion_feedback (id, language, acception, correction, received_at)
        values (${`p-${i}`}, 'python', 'accepted', 'unchanged', ${daysAgo(age)})`.execute(db);
    }
    const deleted = await pruneFeedback(db, { maxAgeDays: 180, maxRows: 3 }, now);
    expect(deleted).toEqual({ completion_feedback: 4, client_error_report: 4, chat_feedback: 4 });
    for (const table of ['client_error_report', 'chat_feedback', 'completion_feedback']) {
      const { rows } = await sql<{ received_at: Date }>`select received_at from ${sql.table(table)}
        order by received_at`.execute(db);
      // The three newest are kept.
      expect(
        rows.map((r) => r.received_at.getTime()),
        table,
      ).toEqual([30, 20, 10].map((d) => daysAgo(d).getTime()));
    }
    expect(await pruneFeedback(db, { maxAgeDays: 180, maxRows: 3 }, now)).toEqual({
      completion_feedback: 0,
      client_error_report: 0,
      chat_feedback: 0,
    });
  });
});
