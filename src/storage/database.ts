import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Generated,
  type JSONColumnType,
  Kysely,
  PostgresAdapter,
  PostgresDialect,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
  sql,
  type TransactionSettings,
} from 'kysely';
import pg from 'pg';
import { sanitizingDialect } from './query-errors.js';

/** The `completion_feedback` table: one row per completion point the IDE reported on. */
export interface CompletionFeedbackTable {
  /** The client's completion point id, e.g. "7-3fa85f6457174562". */
  id: string;
  user_name: string | null;
  language: string;
  /** 'accepted' | 'rejected' | 'canceled' | 'none' as sent; not constrained, so a newer client is not refused. */
  acception: string;
  /** 'unchanged' | 'changed' | 'none' as sent. */
  correction: string;
  actual_code: string | null;
  create_time: Date | null;
  start_time: Date | null;
  end_time: Date | null;
  handle_time: Date | null;
  /** Milliseconds the completion request took, as measured by the client. */
  expend_time: number | null;
  received_at: Generated<Date>;
  /** Set when a re-sent item upgraded a 'none' acception or correction to a final one. */
  updated_at: Date | null;
}

/** The `client_error_report` table: the extension's error counters, stored as sent. */
export interface ClientErrorReportTable {
  /** bigserial; int8 is read as a string by both drivers (see `openDatabase`). */
  id: Generated<string>;
  user_name: string | null;
  body: JSONColumnType<Record<string, unknown>>;
  received_at: Generated<Date>;
}

export interface UsersTable {
  id: string;
  name: string;
  /** scrypt hash in the form `scrypt$N$r$p$salt$hash` (base64url); null for users who cannot log in with a password. */
  password_hash: string | null;
  email: string | null;
  disabled: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface ApiTokensTable {
  id: string;
  user_id: string;
  name: string;
  token_hash: string;
  created_at: Generated<Date>;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

/** Storage of the embedded OpenID provider (oidc-provider adapter models, one row per object). */
export interface OidcStoreTable {
  kind: string;
  id: string;
  payload: JSONColumnType<Record<string, unknown>>;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: Date | null;
  consumed_at: Date | null;
}

/** The `conversations` table: server-side chat history, keyed by (user, the client's conversation id). */
export interface ConversationsTable {
  id: string;
  user_id: string;
  client_conversation_id: string;
  title: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

/** The `chat_messages` table: the turns of one conversation, in insertion (id) order. */
export interface ChatMessagesTable {
  /** bigserial, read as a string. */
  id: Generated<string>;
  conversation_id: string;
  role: string;
  content: string;
  /** Estimated when stored; history trimming re-estimates with the current chars-per-token. */
  tokens: number;
  created_at: Generated<Date>;
}

/**
 * The `usage_ledger` table: one row per chat or completion request, keyed on `entry_id`, which
 * Shenma makes; `request_id` is the request's id as the client or the server named it, not unique.
 */
export interface UsageLedgerTable {
  id: Generated<string>;
  /** A UUID made by the server for this row. */
  entry_id: string;
  request_id: string;
  user_id: string;
  user_name: string;
  model: string;
  route: 'completion' | 'openai' | 'socket';
  prompt_tokens: number;
  completion_tokens: number;
  estimated: boolean;
  first_token_ms: number | null;
  total_ms: number;
  status: string;
  error: string | null;
  created_at: Generated<Date>;
}

/** The `chat_feedback` table: the chat webview's thumbs, code-use reports and issue reports, as sent. */
export interface ChatFeedbackTable {
  id: Generated<string>;
  kind: 'evaluate' | 'use_code' | 'issue';
  user_name: string | null;
  conversation_id: string | null;
  body: JSONColumnType<Record<string, unknown>>;
  received_at: Generated<Date>;
}

/** Every table the application reads or writes, keyed by its SQL name. */
export interface Tables {
  completion_feedback: CompletionFeedbackTable;
  client_error_report: ClientErrorReportTable;
  users: UsersTable;
  api_tokens: ApiTokensTable;
  oidc_store: OidcStoreTable;
  conversations: ConversationsTable;
  chat_messages: ChatMessagesTable;
  usage_ledger: UsageLedgerTable;
  chat_feedback: ChatFeedbackTable;
}

export interface Database {
  db: Kysely<Tables>;
  kind: 'pglite' | 'postgres';
  /** Round-trips a trivial query; rejects when the database does not answer. */
  ping(): Promise<void>;
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
}

const INT8_OID = 20;

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  if (opts.url) return openPostgres(opts.url, opts.connectTimeoutMs ?? 10_000);
  return openPGlite(opts.dataDir);
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
    close: () => db.destroy(),
  };
}

async function openPGlite(dataDir: string): Promise<Database> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const lock = await acquireDataDirLock(dataDir);
  let pglite: PGlite;
  try {
    const pgdata = join(dataDir, 'pgdata');
    await mkdir(pgdata, { recursive: true, mode: 0o700 });
    // int8 comes back as a string, as node-postgres returns it, so row types are the same in
    // both shapes (PGlite would otherwise return number or bigint depending on magnitude).
    pglite = await PGlite.create({ dataDir: pgdata, parsers: { [INT8_OID]: (value: string) => value } });
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
    close: async () => {
      await db.destroy();
      // Kysely only destroys a driver it has initialised, i.e. after a first query; the
      // instance and the lock must be let go even when nothing was ever asked.
      await driver.destroy();
    },
  };
}

async function pingDatabase(db: Kysely<Tables>): Promise<void> {
  await sql`select 1`.execute(db);
}

function pgliteDialect(driver: Driver): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => driver,
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
}

const AFFECTED_ROWS_COMMANDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

class PGliteConnection implements DatabaseConnection {
  constructor(private readonly pglite: PGlite) {}

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.pglite.query<R>(compiledQuery.sql, [...compiledQuery.parameters], {
      rowMode: 'object',
    });
    const command = result.command?.toUpperCase();
    if (command && AFFECTED_ROWS_COMMANDS.has(command) && result.affectedRows !== undefined) {
      return { rows: result.rows, numAffectedRows: BigInt(result.affectedRows) };
    }
    return { rows: result.rows };
  }

  // PGlite has no server-side cursor API here; results are already in memory, so hand them out in chunks.
  async *streamQuery<R>(
    compiledQuery: CompiledQuery,
    chunkSize = 100,
  ): AsyncIterableIterator<QueryResult<R>> {
    const { rows } = await this.executeQuery<R>(compiledQuery);
    for (let i = 0; i < rows.length; i += chunkSize) yield { rows: rows.slice(i, i + chunkSize) };
  }
}

/**
 * PGlite is one backend with one session, so Kysely gets exactly one connection and callers queue
 * for it. Holding it for a whole transaction is what keeps a concurrent query from landing inside
 * somebody else's BEGIN … COMMIT.
 */
class PGliteDriver implements Driver {
  readonly #pglite: PGlite;
  readonly #connection: PGliteConnection;
  readonly #lock: DataDirLock;
  #queueTail: Promise<void> = Promise.resolve();
  #releaseHolder: (() => void) | undefined;

  constructor(pglite: PGlite, lock: DataDirLock) {
    this.#pglite = pglite;
    this.#connection = new PGliteConnection(pglite);
    this.#lock = lock;
  }

  async init(): Promise<void> {
    await this.#pglite.waitReady;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.#queueTail;
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#queueTail = previous.then(() => released);
    await previous;
    this.#releaseHolder = release;
    return this.#connection;
  }

  async releaseConnection(): Promise<void> {
    const release = this.#releaseHolder;
    this.#releaseHolder = undefined;
    release?.();
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const modes: string[] = [];
    if (settings.isolationLevel) modes.push(`isolation level ${settings.isolationLevel}`);
    if (settings.accessMode) modes.push(settings.accessMode);
    await connection.executeQuery(CompiledQuery.raw(modes.length ? `begin ${modes.join(', ')}` : 'begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint ${quoteIdentifier(name)}`));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to savepoint ${quoteIdentifier(name)}`));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release savepoint ${quoteIdentifier(name)}`));
  }

  async destroy(): Promise<void> {
    try {
      if (!this.#pglite.closed) await this.#pglite.close();
    } finally {
      await this.#lock.release();
    }
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

// ---------------------------------------------------------------------------------------------
// Data-directory lock. PGlite keeps the whole cluster in one process with no shared-memory
// protection, so a second process opening the same pgdata would corrupt it.

export interface DataDirLock {
  /** The lock file, `<dataDir>/pgdata.lock`. */
  readonly path: string;
  /** Removes the lock file if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

interface LockFileContent {
  pid: number;
  hostname: string;
  startedAt: string;
  token: string;
}

/** The data directory's embedded database is held by another live process (or this one). */
export class DataDirLockedError extends Error {
  constructor(
    readonly lockPath: string,
    readonly holder: { pid?: number; hostname?: string; startedAt?: string },
    detail?: string,
  ) {
    super(
      detail ??
        `the embedded database in ${lockPath.replace(/\.lock$/, '')} is in use by process ${holder.pid}` +
          `${holder.hostname ? ` on ${holder.hostname}` : ''}` +
          `${holder.startedAt ? ` (since ${holder.startedAt})` : ''}; ` +
          'stop that server (shenma start) first, or use --database-url to reach a PostgreSQL server',
    );
    this.name = 'DataDirLockedError';
  }
}

/** Lock files this process holds, so a file naming our own pid can be told apart from a reused pid. */
const locksHeldHere = new Set<string>();

const LOCK_ATTEMPTS = 5;

/**
 * Takes `<dataDir>/pgdata.lock` for this process. A lock whose pid is not running (or names this
 * pid but was not taken by this process, as after a container restart where the server is pid 1
 * again) is stale and is taken over. Liveness can only be checked on this host; a data dir shared
 * between hosts is not supported.
 */
export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  const lockPath = resolve(dataDir, 'pgdata.lock');
  const content: LockFileContent = {
    pid: process.pid,
    hostname: hostname(),
    startedAt: new Date().toISOString(),
    token: randomBytes(12).toString('hex'),
  };
  // Write the content first and link it into place, so the lock file is never seen half-written.
  const draftPath = `${lockPath}.${process.pid}.${content.token}`;
  await writeFile(draftPath, `${JSON.stringify(content)}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
      try {
        await link(draftPath, lockPath);
        locksHeldHere.add(lockPath);
        let released = false;
        const release = async () => {
          if (released) return;
          released = true;
          locksHeldHere.delete(lockPath);
          await releaseLock(lockPath, content.token);
        };
        return { path: lockPath, release };
      } catch (err) {
        if (errorCode(err) !== 'EEXIST') throw err;
      }
      const holder = await readLockFile(lockPath);
      if (holder === 'missing') continue;
      if (holder === 'unreadable') {
        throw new DataDirLockedError(
          lockPath,
          {},
          `the lock file ${lockPath} is not one Shenma wrote; if no server is using this data directory, remove it`,
        );
      }
      if (isLockHolderAlive(lockPath, holder)) throw new DataDirLockedError(lockPath, holder);
      await removeStaleLock(lockPath, holder.token);
    }
    throw new DataDirLockedError(
      lockPath,
      {},
      `could not take the lock ${lockPath}: another process keeps racing for it`,
    );
  } finally {
    await unlink(draftPath).catch(() => {});
  }
}

function isLockHolderAlive(lockPath: string, holder: LockFileContent): boolean {
  if (holder.pid === process.pid) return locksHeldHere.has(lockPath);
  return isProcessAlive(holder.pid);
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return errorCode(err) === 'EPERM';
  }
}

/**
 * Moves the stale lock aside rather than unlinking it: if another process took over first, what we
 * moved is its fresh lock, which we then put back.
 */
async function removeStaleLock(lockPath: string, staleToken: string): Promise<void> {
  const asidePath = `${lockPath}.stale.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    await rename(lockPath, asidePath);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return;
    throw err;
  }
  const moved = await readLockFile(asidePath);
  if (typeof moved === 'object' && moved.token !== staleToken) {
    await link(asidePath, lockPath).catch(() => {});
  }
  await unlink(asidePath).catch(() => {});
}

async function readLockFile(path: string): Promise<LockFileContent | 'missing' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return 'missing';
    throw err;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'pid' in parsed &&
      Number.isInteger(parsed.pid) &&
      'token' in parsed &&
      typeof parsed.token === 'string'
    ) {
      const record = parsed as Partial<LockFileContent>;
      return {
        pid: parsed.pid as number,
        token: parsed.token,
        hostname: typeof record.hostname === 'string' ? record.hostname : '',
        startedAt: typeof record.startedAt === 'string' ? record.startedAt : '',
      };
    }
  } catch {
    // fall through
  }
  return 'unreadable';
}

async function releaseLock(lockPath: string, token: string): Promise<void> {
  const current = await readLockFile(lockPath);
  if (typeof current === 'object' && current.token === token) {
    await unlink(lockPath).catch(() => {});
  }
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}
