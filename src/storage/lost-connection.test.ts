import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openTestDatabase } from '../../test/support/database.js';
import type { Database } from './database.js';

/**
 * A connection that loses its server while Shenma holds it between two statements (a transaction,
 * a reserved connection) must not take the process down: pg reports such a loss as an 'error'
 * event on the client, and the pool listens only to the clients it holds idle. Seen in CI as an
 * uncaught ECONNRESET when a test terminated the server's backends (a restart or a failover does
 * the same to a deployment).
 */

let test: { database: Database; close(): Promise<void> };
beforeAll(async () => {
  test = await openTestDatabase('lostconn');
});
afterAll(async () => {
  await test?.close();
});

it('survives the server ending a connection it holds between statements, and reconnects', async () => {
  const { db } = test.database;
  const lost = await db.connection().execute(async (held) => {
    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(held);
    // Another pooled connection ends the held one's backend, as an operator or a failover would,
    // and waits until that backend has exited: its goodbye is then in the held client's socket.
    const ended = await sql<{
      ended: boolean;
    }>`select pg_terminate_backend(${rows[0]!.pid}, 60000) as ended`.execute(db);
    expect(ended.rows[0]!.ended).toBe(true);
    // One more round trip on another connection: the loop has polled the held socket since, so the
    // held client has read the goodbye with no query of its own running.
    await sql`select 1`.execute(db);
    return sql`select 1 as one`.execute(held).then(
      () => 'still answered',
      (err: unknown) => String(err),
    );
  });
  // The held connection is gone (the statement after the loss fails, it does not hang)…
  expect(lost).not.toBe('still answered');
  // …and the next query gets a fresh connection.
  const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db);
  expect(rows[0]!.one).toBe(1);
});
