import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Database, openDatabase } from '../../src/storage/database.js';
import { migrate } from '../../src/storage/migrate.js';
import { createScratchDatabase, postgresReachable } from './postgres.js';

/** Real PostgreSQL when the local server answers (always under CI), else embedded PGlite. */
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
  console.warn(`[${label}] PostgreSQL is not reachable; running against embedded PGlite`);
  const dataDir = await mkdtemp(join(tmpdir(), `shenma-${label}-`));
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
