import { rm } from 'node:fs/promises';
import Fastify from 'fastify';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openTestDatabase } from '../../test/support/database.js';
import { reachableTempDir } from '../../test/support/temp-dir.js';
import { fastifyErrorHandler } from '../http/errors.js';
import { loggerOptions } from '../observability/logger.js';
import { type Database, openDatabase } from './database.js';
import { DatabaseQueryError } from './query-errors.js';

/**
 * Issue #7 item 8: database errors were logged with all their query parameters (session and token
 * records on a full disk). A failing query with a secret-looking parameter, through the server's
 * error handler and logger: the log names the statement and the SQLSTATE, never the value.
 */

const SECRET = 'tok_5f3c9a7e1d2b4c6a8e0f';
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
});

async function embedded(): Promise<Database> {
  const dir = reachableTempDir('shenma-qerr-');
  const database = await openDatabase({ dataDir: dir });
  closers.push(async () => {
    await database.close();
    await rm(dir, { recursive: true, force: true });
  });
  return database;
}

async function external(): Promise<Database> {
  const test = await openTestDatabase('qerr');
  closers.push(test.close);
  return test.database;
}

describe.each([
  ['the embedded server', embedded],
  ['the test database (PostgreSQL when reachable)', external],
])('query errors on %s', (_name, openOnce) => {
  let opened: Promise<Database> | undefined;
  const open = () => {
    opened ??= openOnce();
    return opened;
  };
  it('carry the SQLSTATE and the statement but no parameter value, in the error and in the log', async () => {
    const database = await open();
    const failing = () =>
      sql`select ${SECRET}::int as n, ${`${SECRET}-second`}::text as t`.execute(database.db);
    const err = await failing().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseQueryError);
    expect(err).toMatchObject({ code: '22P02', statement: 'select $1::int as n, $2::text as t' });
    expect(JSON.stringify(err)).not.toContain(SECRET);
    expect((err as Error).message).not.toContain(SECRET);

    const lines: string[] = [];
    const app = Fastify({
      logger: { ...loggerOptions('info'), stream: { write: (l: string) => void lines.push(l) } },
    });
    app.setErrorHandler(fastifyErrorHandler);
    app.get('/fail', async () => failing());
    const res = await app.inject({ method: 'GET', url: '/fail' });
    await app.close();
    expect(res.statusCode).toBe(500);
    const log = lines.join('');
    expect(log).toContain('22P02');
    expect(log).toContain('select $1::int');
    expect(log).not.toContain(SECRET);
    // Room for opening an embedded database on a busy machine; nothing here is timed.
  }, 60_000);

  it('keeps the code and constraint of a unique violation, without the key value', async () => {
    const database = await open();
    await sql`create temporary table qerr_t (k text primary key)`.execute(database.db);
    await sql`insert into qerr_t values (${SECRET})`.execute(database.db);
    const err = await sql`insert into qerr_t values (${SECRET})`
      .execute(database.db)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: '23505', constraint: 'qerr_t_pkey' });
    expect(JSON.stringify(err) + (err as Error).message).not.toContain(SECRET);
  }, 60_000);
});
