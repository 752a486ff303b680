import { type Kysely, type MigrationProvider, Migrator, sql } from 'kysely';
import { MIGRATIONS, type Migration } from './migrations/index.js';
import type { Tables } from './tables.js';

export interface MigrationState {
  name: string;
  /** When it was applied; absent while pending. */
  appliedAt?: Date;
}

/** A migration failed; it and everything after it were rolled back (PostgreSQL DDL is transactional). */
export class MigrationError extends Error {
  constructor(
    readonly migrationName: string | undefined,
    options: { cause: unknown },
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(
      migrationName ? `migration ${migrationName} failed: ${reason}` : `migrations could not run: ${reason}`,
      options,
    );
    this.name = 'MigrationError';
  }
}

/**
 * Applies every pending migration in order. Safe to call from several processes at once: Kysely's
 * PostgreSQL adapter holds an advisory lock around the whole run, and each run re-reads what is
 * applied after taking it, so a migration is applied exactly once.
 */
export async function migrate(db: Kysely<Tables>, migrations = MIGRATIONS): Promise<{ applied: string[] }> {
  const migrator = await createMigrator(db, migrations);
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName;
    throw new MigrationError(failed, { cause: error });
  }
  return { applied: results.filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

/** Every known migration in apply order, with when it was applied. */
export async function migrationStatus(
  db: Kysely<Tables>,
  migrations = MIGRATIONS,
): Promise<MigrationState[]> {
  const migrator = await createMigrator(db, migrations);
  const infos = await migrator.getMigrations();
  return infos.map((info) =>
    info.executedAt ? { name: info.name, appliedAt: info.executedAt } : { name: info.name },
  );
}

async function createMigrator(db: Kysely<Tables>, migrations: readonly Migration[]): Promise<Migrator> {
  const provider: MigrationProvider = {
    getMigrations: async () => Object.fromEntries(migrations.map((m) => [m.name, { up: (k) => m.up(k) }])),
  };
  // Kysely looks for its bookkeeping table in every schema unless told which one; pinning it to
  // the session's current schema keeps two installations in one database (two schemas) apart.
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  const schema = rows[0]?.schema ?? undefined;
  return new Migrator({
    db,
    provider,
    migrationTableName: 'shenma_migrations',
    migrationLockTableName: 'shenma_migrations_lock',
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
}
