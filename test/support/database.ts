import { rm } from 'node:fs/promises';
import { type Database, openDatabase } from '../../src/storage/database.js';
import { migrate } from '../../src/storage/migrate.js';
import { createScratchDatabase, postgresReachable } from './postgres.js';
import { reachableTempDir } from './temp-dir.js';

/** The local PostgreSQL server when it answers (always under CI), else an embedded one. */
export async function openTestDatabase(
  label: string,
  /** `migrated: false` leaves the schema empty (for tests of the migrations themselves). */
  opts: { migrated?: boolean } = {},
): Promise<{ database: Database; close(): Promise<void> }> {
  if (await postgresReachable()) {
    const scratch = await createScratchDatabase(label);
    const database = await openDatabase({ url: scratch.url, dataDir: '/nonexistent' });
    if (opts.migrated !== false) await migrate(database.db);
    return {
      database,
      close: async () => {
        await database.close();
        await scratch.drop();
      },
    };
  }
  console.warn(`[${label}] PostgreSQL is not reachable; running against the embedded server`);
  const dataDir = reachableTempDir(`shenma-${label}-`);
  const database = await openDatabase({ dataDir });
  if (opts.migrated !== false) await migrate(database.db);
  return {
    database,
    close: async () => {
      await database.close();
      await rm(dataDir, { recursive: true });
    },
  };
}
