import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { acquireDataDirLock } from './data-dir-lock.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres/server.js';
import { makePassThroughDirs } from './embedded-postgres/server-user.js';
import { sanitizingDialect } from './query-errors.js';
import type { Tables } from './tables.js';

/**
 * Opens the application database: PostgreSQL at a configured URL, else the embedded PostgreSQL
 * server of the data directory (behind its lock), started for as long as the handle is open.
 * Both are the same server software behind the same driver, so there is one SQL dialect.
 */

// The handle's schema and what opening may throw, for callers that only open a database.
export { DataDirLockedError } from './data-dir-lock.js';
export type * from './tables.js';

export interface Database {
  db: Kysely<Tables>;
  /** `embedded`: the data directory's own server, which this process started and stops. */
  kind: 'embedded' | 'postgres';
  /** Round-trips a trivial query; rejects when the database does not answer. */
  ping(): Promise<void>;
  /** Rewrites the one-row readiness table; rejects when the database takes no writes (disk full, read-only). */
  checkWritable(): Promise<void>;
  /** Closes the pool (and stops the embedded server, releasing the data-dir lock). */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** A `postgres://` URL selects that server; without it the data directory's embedded server is used. */
  url?: string;
  /** Whose embedded database (`<dataDir>/pgdata`, or where the data dir records it); unused with `url`. */
  dataDir: string;
  /** Where a cluster goes that the server's user could not reach in the data dir (embedded-postgres/cluster-location.ts). */
  clustersDir?: string;
  /** How long to wait for a PostgreSQL connection before failing (default 10 s). */
  connectTimeoutMs?: number;
  /** Told when the embedded database does not exist yet and is being created (takes a while). */
  onCreate?: (pgdata: string) => void;
  /** Told at every open when the embedded database lives outside the data directory: where, and why. */
  onRelocated?: (pgdata: string, reason: string) => void;
  /** The embedded server's log lines. */
  onServerLog?: (line: string) => void;
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  if (opts.url) return openPostgres(opts.url, opts.connectTimeoutMs ?? 10_000);
  return openEmbedded(opts);
}

function openPostgres(url: string, connectTimeoutMs: number): Database {
  const pool = newPool({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, max: 10 });
  const db = new Kysely<Tables>({ dialect: sanitizingDialect(new PostgresDialect({ pool })) });
  return {
    db,
    kind: 'postgres',
    ping: () => pingDatabase(db),
    checkWritable: () => writeReadinessRow(db),
    close: () => db.destroy(),
  };
}

function newPool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool(config);
  // An idle client that loses its server emits 'error' on the pool; unhandled, that kills the
  // process. The pool drops the client and the next query reconnects or fails visibly.
  pool.on('error', () => {});
  // A client in use loses its server between statements (a transaction, a reserved connection)
  // with an 'error' on the client itself, which the pool does not listen to while it is lent out.
  // A query running then fails with the error anyway; the client's next query fails, and the
  // pool discards it when it comes back.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

async function openEmbedded(opts: OpenDatabaseOptions): Promise<Database> {
  // Directories made above it only let others pass through: run as root, the server runs as
  // another user, which must reach the data directory (see embedded-postgres/server-user.ts).
  await makePassThroughDirs(dirname(opts.dataDir));
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  // One Shenma process owns the data directory's server; a second one would start another
  // postmaster on the same cluster (PostgreSQL refuses) or stop the first one's.
  const lock = await acquireDataDirLock(opts.dataDir);
  let server: EmbeddedPostgres;
  try {
    server = await startEmbeddedPostgres({
      dataDir: opts.dataDir,
      ...(opts.clustersDir ? { clustersDir: opts.clustersDir } : {}),
      ...(opts.onCreate ? { onCreate: opts.onCreate } : {}),
      ...(opts.onRelocated ? { onRelocated: opts.onRelocated } : {}),
      ...(opts.onServerLog ? { onLog: opts.onServerLog } : {}),
    });
  } catch (err) {
    await lock.release();
    throw err;
  }
  const pool = newPool({ ...server.connection, max: 10, connectionTimeoutMillis: 10_000 });
  const db = new Kysely<Tables>({ dialect: sanitizingDialect(new PostgresDialect({ pool })) });
  let closed: Promise<void> | undefined;
  return {
    db,
    kind: 'embedded',
    ping: () => pingDatabase(db),
    checkWritable: () => writeReadinessRow(db),
    close: () => {
      closed ??= (async () => {
        try {
          await db.destroy();
          // Kysely only ends a pool it has used; the pool must be let go in any case.
          await pool.end().catch(() => {});
          await server.stop();
        } finally {
          await lock.release();
        }
      })();
      return closed;
    },
  };
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
