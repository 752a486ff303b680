import { chmod, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { acquireDataDirLock } from './data-dir-lock.js';
import { createPGliteDataDir, needsCreate } from './pglite-create.js';
import { PGliteDriver, pgliteDialect } from './pglite-dialect.js';
import { sanitizingDialect } from './query-errors.js';
import type { Tables } from './tables.js';

/**
 * Opens the application database: real PostgreSQL when a URL is configured, else embedded PGlite
 * under the data directory (behind its lock). Both give the same typed Kysely handle.
 */

// The handle's schema and what opening may throw, for callers that only open a database.
export { DataDirLockedError } from './data-dir-lock.js';
export type * from './tables.js';

export interface Database {
  db: Kysely<Tables>;
  kind: 'pglite' | 'postgres';
  /** Round-trips a trivial query; rejects when the database does not answer. */
  ping(): Promise<void>;
  /** Rewrites the one-row readiness table; rejects when the database takes no writes (disk full, read-only). */
  checkWritable(): Promise<void>;
  /** Closes the pool or the embedded instance and releases the data-dir lock. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** A `postgres://` URL selects real PostgreSQL; without it the embedded PGlite is used. */
  url?: string;
  /** Where the embedded database lives (`<dataDir>/pgdata`); unused with `url`. */
  dataDir: string;
  /** How long to wait for a PostgreSQL connection before failing (default 10 s). */
  connectTimeoutMs?: number;
  /** Told when the embedded database does not exist yet and is being created (takes a while). */
  onCreate?: (pgdata: string) => void;
}

const INT8_OID = 20;

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  if (opts.url) return openPostgres(opts.url, opts.connectTimeoutMs ?? 10_000);
  return openPGlite(opts.dataDir, opts.onCreate);
}

function openPostgres(url: string, connectTimeoutMs: number): Database {
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, max: 10 });
  // An idle client that loses its server emits 'error' on the pool; unhandled, that kills the
  // process. The pool drops the client and the next query reconnects or fails visibly.
  pool.on('error', () => {});
  const db = new Kysely<Tables>({ dialect: sanitizingDialect(new PostgresDialect({ pool })) });
  return {
    db,
    kind: 'postgres',
    ping: () => pingDatabase(db),
    checkWritable: () => writeReadinessRow(db),
    close: () => db.destroy(),
  };
}

async function openPGlite(dataDir: string, onCreate?: (pgdata: string) => void): Promise<Database> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const lock = await acquireDataDirLock(dataDir);
  let pglite: PGlite;
  const pgdata = join(dataDir, 'pgdata');
  try {
    await mkdir(pgdata, { recursive: true, mode: 0o700 });
    if (needsCreate(pgdata)) {
      onCreate?.(pgdata);
      await createPGliteDataDir(pgdata);
    }
    // The cluster holds password hashes, tokens and prompts. PGlite writes its files 0666/0644
    // whatever the umask, so the directory is closed to others first (which alone keeps them
    // out), and the files are made 0600 after it opened and again when it closes.
    await chmod(pgdata, 0o700);
    // int8 comes back as a string, as node-postgres returns it, so row types are the same in
    // both shapes (PGlite would otherwise return number or bigint depending on magnitude).
    pglite = await PGlite.create({ dataDir: pgdata, parsers: { [INT8_OID]: (value: string) => value } });
    await keepPrivate(pgdata);
  } catch (err) {
    await lock.release();
    throw err;
  }
  const driver = new PGliteDriver(pglite, lock);
  const db = new Kysely<Tables>({ dialect: sanitizingDialect(pgliteDialect(driver)) });
  return {
    db,
    kind: 'pglite',
    ping: () => pingDatabase(db),
    checkWritable: () => writeReadinessRow(db),
    close: async () => {
      await db.destroy();
      // Kysely only destroys a driver it has initialised, i.e. after a first query; the
      // instance and the lock must be let go even when nothing was ever asked.
      await driver.destroy();
      await keepPrivate(pgdata).catch(() => {});
    },
  };
}

/** Directories 0700 and files 0600 from `dir` down. */
async function keepPrivate(dir: string): Promise<void> {
  await chmod(dir, 0o700);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await keepPrivate(path);
    else if (entry.isFile()) await chmod(path, 0o600);
  }
}

async function writeReadinessRow(db: Kysely<Tables>): Promise<void> {
  await db
    .insertInto('shenma_readiness')
    .values({ id: 1, checked_at: new Date() })
    .onConflict((oc) => oc.column('id').doUpdateSet({ checked_at: new Date() }))
    .execute();
}

async function pingDatabase(db: Kysely<Tables>): Promise<void> {
  await sql`select 1`.execute(db);
}
