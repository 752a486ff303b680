import { rm } from 'node:fs/promises';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEmbeddedDatabase } from '../../test/support/embedded-template.js';
import { reachableTempDir } from '../../test/support/temp-dir.js';
import {
  type CompletionFeedbackItem,
  recordClientErrorReport,
  recordCompletionFeedback,
} from '../completion/feedback-store.js';
import { type Database, openDatabase } from './database.js';
import { MigrationError, migrate, migrationStatus } from './migrate.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';

/**
 * One suite, run against the embedded PostgreSQL server and against a configured PostgreSQL. The PostgreSQL half gets
 * a database of its own per run (created from SHENMA_TEST_DATABASE_URL's server) so parallel runs
 * never see each other's tables or advisory locks.
 */
const POSTGRES_ADMIN_URL =
  process.env['SHENMA_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const postgresUnreachable = await probePostgres(POSTGRES_ADMIN_URL);
if (postgresUnreachable) {
  const verdict = process.env['CI'] ? 'FAILING (CI is set)' : 'SKIPPING';
  console.warn(
    `[storage] ${verdict} the PostgreSQL suite: ${POSTGRES_ADMIN_URL} is unreachable (${postgresUnreachable})`,
  );
}

const MIGRATION_NAMES = MIGRATIONS.map((m) => m.name);

describe('migration list', () => {
  it('is in name order with unique names, as the migrator applies them', () => {
    expect([...MIGRATION_NAMES].sort()).toEqual(MIGRATION_NAMES);
    expect(new Set(MIGRATION_NAMES).size).toBe(MIGRATION_NAMES.length);
  });
});

describe('storage on the embedded PostgreSQL server', () => {
  let dataDir: string;
  defineStorageSuite(
    'embedded',
    async () => {
      dataDir = reachableTempDir('shenma-storage-');
      await seedEmbeddedDatabase(dataDir);
      return openDatabase({ dataDir });
    },
    async () => {
      await rm(dataDir, { recursive: true, force: true });
    },
  );
});

if (postgresUnreachable && process.env['CI']) {
  describe('storage on PostgreSQL', () => {
    it('has a reachable PostgreSQL (required when CI is set)', () => {
      expect.fail(`${POSTGRES_ADMIN_URL} is unreachable: ${postgresUnreachable}`);
    });
  });
} else {
  describe.skipIf(postgresUnreachable !== undefined)('storage on PostgreSQL', () => {
    const created: string[] = [];
    const freshDatabaseUrl = async () => {
      const url = await createScratchDatabase(POSTGRES_ADMIN_URL);
      created.push(url);
      return url;
    };
    afterAll(async () => {
      for (const url of created) await dropScratchDatabase(POSTGRES_ADMIN_URL, url);
    });

    defineStorageSuite('postgres', async () =>
      openDatabase({ url: await freshDatabaseUrl(), dataDir: '/nonexistent' }),
    );

    it('applies each migration exactly once when several processes migrate at the same time', async () => {
      const url = await freshDatabaseUrl();
      // Separate pools stand in for separate processes: separate sessions, one advisory lock.
      const databases = await Promise.all(
        [1, 2, 3, 4].map(() => openDatabase({ url, dataDir: '/nonexistent' })),
      );
      try {
        const results = await Promise.all(databases.map((d) => migrate(d.db)));
        const appliedEverywhere = results.flatMap((r) => r.applied);
        expect(appliedEverywhere.sort()).toEqual(MIGRATION_NAMES);
        const { rows } = await sql<{ n: string }>`select count(*) as n from shenma_migrations`.execute(
          databases[0]!.db,
        );
        expect(Number(rows[0]!.n)).toBe(MIGRATION_NAMES.length);
      } finally {
        await Promise.all(databases.map((d) => d.close()));
      }
    });
  });
}

function defineStorageSuite(
  kind: Database['kind'],
  open: () => Promise<Database>,
  cleanup?: () => Promise<void>,
) {
  let database: Database;
  beforeAll(async () => {
    const started = performance.now();
    database = await open();
    console.info(`[storage] ${kind} opened in ${Math.round(performance.now() - started)} ms`);
  }, 60_000);
  afterAll(async () => {
    await database?.close();
    await cleanup?.();
  });

  // The tests below share one database and run in order: the migration tests come first.

  it('reports its kind and answers a ping', async () => {
    expect(database.kind).toBe(kind);
    await expect(database.ping()).resolves.toBeUndefined();
  });

  it('lists every migration as pending on a fresh database', async () => {
    expect(await migrationStatus(database.db)).toEqual(MIGRATION_NAMES.map((name) => ({ name })));
  });

  it('applies every migration, in order, on the first run', async () => {
    expect(await migrate(database.db)).toEqual({ applied: MIGRATION_NAMES });
  });

  it('applies nothing on a second run', async () => {
    expect(await migrate(database.db)).toEqual({ applied: [] });
  });

  it('lists applied migrations with when they were applied', async () => {
    const states = await migrationStatus(database.db);
    expect(states.map((s) => s.name)).toEqual(MIGRATION_NAMES);
    for (const state of states) {
      expect(state.appliedAt).toBeInstanceOf(Date);
      expect(Math.abs(Date.now() - state.appliedAt!.getTime())).toBeLessThan(5 * 60_000);
    }
  });

  it('applies concurrent migrate calls on one handle once', async () => {
    const results = await Promise.all([migrate(database.db), migrate(database.db)]);
    expect(results).toEqual([{ applied: [] }, { applied: [] }]);
  });

  it('rolls back a failing migration and names it', async () => {
    const failing: Migration = {
      name: '9000_failing',
      async up(db) {
        await db.schema.createTable('half_made').addColumn('id', 'integer').execute();
        throw new Error('deliberate failure');
      },
    };
    const attempt = migrate(database.db, [...MIGRATIONS, failing]);
    await expect(attempt).rejects.toBeInstanceOf(MigrationError);
    await expect(attempt).rejects.toThrow('migration 9000_failing failed: deliberate failure');
    const tables = await database.db.introspection.getTables();
    expect(tables.map((t) => t.name)).not.toContain('half_made');
    expect((await migrationStatus(database.db, [...MIGRATIONS, failing])).at(-1)).toEqual({
      name: '9000_failing',
    });
  });

  it('does not interleave a concurrent query into an open transaction', async () => {
    const id = `${kind}-tx-outsider`;
    let insideTransaction!: () => void;
    const transactionStarted = new Promise<void>((resolve) => {
      insideTransaction = resolve;
    });
    const rolledBack = database.db
      .transaction()
      .execute(async (trx) => {
        await recordCompletionFeedback(trx, 'alice', [feedbackItem(`${kind}-tx-rolled-back`)]);
        insideTransaction();
        await new Promise((resolve) => setTimeout(resolve, 50));
        throw new Error('roll back');
      })
      .catch(() => 'rolled back');
    await transactionStarted;
    await recordCompletionFeedback(database.db, 'alice', [feedbackItem(id)]);
    expect(await rolledBack).toBe('rolled back');
    const ids = await database.db
      .selectFrom('completion_feedback')
      .select('id')
      .where('id', 'in', [id, `${kind}-tx-rolled-back`])
      .execute();
    expect(ids).toEqual([{ id }]);
  });

  describe('completion feedback', () => {
    it('stores an item resent three times as one row', async () => {
      const item = feedbackItem(`${kind}-dup`);
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await recordCompletionFeedback(database.db, 'alice', [item]));
      expect(results).toEqual([
        { inserted: 1, updated: 0 },
        { inserted: 0, updated: 0 },
        { inserted: 0, updated: 0 },
      ]);
      const rows = await database.db
        .selectFrom('completion_feedback')
        .selectAll()
        .where('id', '=', item.id)
        .execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        id: item.id,
        user_name: 'alice',
        language: 'python',
        acception: 'none',
        correction: 'none',
        actual_code: null,
        create_time: new Date(1741234567000),
        start_time: new Date(1741234567300),
        end_time: new Date(1741234567480),
        handle_time: new Date(1741234568000),
        expend_time: 480,
        updated_at: null,
      });
      expect(rows[0]!.received_at).toBeInstanceOf(Date);
    });

    it('upgrades a pending outcome to the final one and then keeps it', async () => {
      const id = `${kind}-final`;
      const read = () =>
        database.db
          .selectFrom('completion_feedback')
          .select(['acception', 'correction', 'actual_code', 'updated_at'])
          .where('id', '=', id)
          .executeTakeFirstOrThrow();

      await recordCompletionFeedback(database.db, 'alice', [feedbackItem(id)]);
      expect(
        await recordCompletionFeedback(database.db, 'alice', [feedbackItem(id, { acception: 'accepted' })]),
      ).toEqual({ inserted: 0, updated: 1 });
      expect(await read()).toMatchObject({ acception: 'accepted', correction: 'none', actual_code: null });
      expect((await read()).updated_at).toBeInstanceOf(Date);

      const corrected = feedbackItem(id, {
        acception: 'accepted',
        correction: 'changed',
        actual_code: 'x = 2',
      });
      expect(await recordCompletionFeedback(database.db, 'alice', [corrected])).toEqual({
        inserted: 0,
        updated: 1,
      });
      expect(await read()).toMatchObject({
        acception: 'accepted',
        correction: 'changed',
        actual_code: 'x = 2',
      });

      // A later, different final outcome (a replay or a client bug) does not flip the stored one.
      const contrary = feedbackItem(id, {
        acception: 'rejected',
        correction: 'unchanged',
        actual_code: null,
      });
      expect(await recordCompletionFeedback(database.db, 'alice', [contrary])).toEqual({
        inserted: 0,
        updated: 0,
      });
      expect(await read()).toMatchObject({
        acception: 'accepted',
        correction: 'changed',
        actual_code: 'x = 2',
      });
    });

    it('merges repeated ids within one batch by the same rule', async () => {
      const id = `${kind}-batch`;
      const result = await recordCompletionFeedback(database.db, undefined, [
        feedbackItem(id),
        feedbackItem(id, { acception: 'rejected' }),
        feedbackItem(id, { acception: 'accepted', correction: 'unchanged' }),
        feedbackItem(`${kind}-batch-other`),
      ]);
      expect(result).toEqual({ inserted: 2, updated: 0 });
      const row = await database.db
        .selectFrom('completion_feedback')
        .select(['acception', 'correction', 'user_name'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      expect(row).toEqual({ acception: 'rejected', correction: 'unchanged', user_name: null });
    });

    it('never changes a report another user made under the same id', async () => {
      const id = `${kind}-someone-elses`;
      await recordCompletionFeedback(database.db, 'alice', [feedbackItem(id)]);
      const overwrite = feedbackItem(id, {
        acception: 'accepted',
        correction: 'changed',
        actual_code: 'INJECTED',
      });
      expect(await recordCompletionFeedback(database.db, 'dave', [overwrite])).toEqual({
        inserted: 0,
        updated: 0,
      });
      const row = await database.db
        .selectFrom('completion_feedback')
        .select(['acception', 'correction', 'actual_code', 'user_name'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      expect(row).toEqual({ acception: 'none', correction: 'none', actual_code: null, user_name: 'alice' });
      // Its owner still completes it.
      expect(await recordCompletionFeedback(database.db, 'alice', [overwrite])).toEqual({
        inserted: 0,
        updated: 1,
      });
    });

    it('accepts items without the optional fields', async () => {
      const item: CompletionFeedbackItem = {
        id: `${kind}-sparse`,
        language: 'go',
        acception: 'canceled',
        correction: 'none',
      };
      expect(await recordCompletionFeedback(database.db, 'bob', [item])).toEqual({ inserted: 1, updated: 0 });
      expect(await recordCompletionFeedback(database.db, 'bob', [])).toEqual({ inserted: 0, updated: 0 });
    });
  });

  it('stores a client error report as JSON with its user', async () => {
    const body = { openapi_total: 3, openapi_cancel: 0, openapi_error: 1, memo_ok: 2, status: {} };
    const { id } = await recordClientErrorReport(database.db, 'alice', body);
    expect(typeof id).toBe('string');
    const second = await recordClientErrorReport(database.db, undefined, { note: 'it\'s "quoted"' });
    expect(BigInt(second.id)).toBeGreaterThan(BigInt(id));
    const rows = await database.db
      .selectFrom('client_error_report')
      .selectAll()
      .where('id', 'in', [id, second.id])
      .orderBy('id')
      .execute();
    expect(rows.map((r) => [r.user_name, r.body])).toEqual([
      ['alice', body],
      [null, { note: 'it\'s "quoted"' }],
    ]);
    expect(rows[0]!.received_at).toBeInstanceOf(Date);
  });

  it('applies only the new migration when one is added (runs last: it leaves an unknown migration behind)', async () => {
    const added: Migration = {
      name: '9001_added_later',
      async up(db) {
        await db.schema.createTable('added_later').addColumn('id', 'integer').execute();
      },
    };
    expect(await migrate(database.db, [...MIGRATIONS, added])).toEqual({ applied: ['9001_added_later'] });
    const states = await migrationStatus(database.db, [...MIGRATIONS, added]);
    expect(states.every((s) => s.appliedAt instanceof Date)).toBe(true);
  });
}

function feedbackItem(id: string, overrides: Partial<CompletionFeedbackItem> = {}): CompletionFeedbackItem {
  return {
    id,
    language: 'python',
    acception: 'none',
    correction: 'none',
    create_time: 1741234567000,
    start_time: 1741234567300,
    end_time: 1741234567480,
    handle_time: 1741234568000,
    expend_time: 480,
    ...overrides,
  };
}

/** Resolves to why PostgreSQL cannot be used, or undefined when it answers. */
async function probePostgres(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (err) {
    return (err as Error).message || String(err);
  } finally {
    await client.end().catch(() => {});
  }
}

async function createScratchDatabase(adminUrl: string): Promise<string> {
  const name = `shenma_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropScratchDatabase(adminUrl: string, url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${name} with (force)`);
  } finally {
    await client.end();
  }
}
