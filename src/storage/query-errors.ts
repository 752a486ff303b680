import type {
  CompiledQuery,
  DatabaseConnection,
  Dialect,
  Driver,
  QueryResult,
  TransactionSettings,
} from 'kysely';
import { storableQuery } from './storable.js';

/**
 * Database errors as they may be logged: the SQLSTATE code, the statement's SQL text (with its
 * `$n` placeholders, never the values) and the server's message with every parameter value cut
 * out. The drivers' own errors carry the parameters (node-postgres's
 * `detail` repeats key values), and parameters here are session records, token hashes and whole
 * prompts: logged as they were, one failing insert wrote megabytes of them.
 */
export class DatabaseQueryError extends Error {
  override readonly name = 'DatabaseQueryError';
  constructor(
    message: string,
    /** SQLSTATE, e.g. 23505 for a unique violation. */
    readonly code: string | undefined,
    /** The SQL text, placeholders only, cut to a readable length. */
    readonly statement: string,
    readonly table: string | undefined,
    readonly constraint: string | undefined,
  ) {
    super(message);
  }
}

const MAX_STATEMENT_CHARS = 300;
/** Values shorter than this are not cut out of messages: they would mangle ordinary words. */
const MIN_CENSORED_LENGTH = 3;

function field(err: object, name: string): string | undefined {
  const v = (err as Record<string, unknown>)[name];
  return typeof v === 'string' && v ? v : undefined;
}

/** The error to throw in place of `err`, which a query with `parameters` raised. */
export function sanitizeQueryError(err: unknown, query: CompiledQuery): unknown {
  if (typeof err !== 'object' || err === null) return err;
  const code = field(err, 'code');
  // Only errors the database answered with (SQLSTATE is five characters); socket errors pass.
  if (code === undefined || !/^[0-9A-Z]{5}$/.test(code)) return err;
  let message = err instanceof Error ? err.message : String(err);
  const values = query.parameters
    .map((p) => (typeof p === 'string' ? p : typeof p === 'number' || typeof p === 'bigint' ? String(p) : ''))
    .filter((v) => v.length >= MIN_CENSORED_LENGTH)
    .sort((a, b) => b.length - a.length);
  for (const v of values) message = message.split(v).join('[parameter]');
  const sql = query.sql.replace(/\s+/g, ' ').trim();
  return new DatabaseQueryError(
    message.slice(0, 500),
    code,
    sql.length > MAX_STATEMENT_CHARS ? `${sql.slice(0, MAX_STATEMENT_CHARS)}…` : sql,
    field(err, 'table'),
    field(err, 'constraint'),
  );
}

class SanitizingConnection implements DatabaseConnection {
  constructor(readonly inner: DatabaseConnection) {}

  executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const query = storableQuery(compiled);
    return this.inner.executeQuery<R>(query).catch((err: unknown) => {
      throw sanitizeQueryError(err, query);
    });
  }

  async *streamQuery<R>(compiled: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    const query = storableQuery(compiled);
    try {
      yield* this.inner.streamQuery<R>(query, chunkSize);
    } catch (err) {
      throw sanitizeQueryError(err, query);
    }
  }
}

/** The same driver, its connections' errors sanitised. */
class SanitizingDriver implements Driver {
  readonly #wrapped = new WeakMap<DatabaseConnection, SanitizingConnection>();
  constructor(private readonly inner: Driver) {}

  init(): Promise<void> {
    return this.inner.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    const conn = await this.inner.acquireConnection();
    let wrapped = this.#wrapped.get(conn);
    if (!wrapped) {
      wrapped = new SanitizingConnection(conn);
      this.#wrapped.set(conn, wrapped);
    }
    return wrapped;
  }
  beginTransaction(conn: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(unwrap(conn), settings);
  }
  commitTransaction(conn: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(unwrap(conn));
  }
  rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(unwrap(conn));
  }
  async savepoint(
    conn: DatabaseConnection,
    name: string,
    compile: Parameters<NonNullable<Driver['savepoint']>>[2],
  ) {
    await this.inner.savepoint?.(unwrap(conn), name, compile);
  }
  async rollbackToSavepoint(
    conn: DatabaseConnection,
    name: string,
    compile: Parameters<NonNullable<Driver['rollbackToSavepoint']>>[2],
  ) {
    await this.inner.rollbackToSavepoint?.(unwrap(conn), name, compile);
  }
  async releaseSavepoint(
    conn: DatabaseConnection,
    name: string,
    compile: Parameters<NonNullable<Driver['releaseSavepoint']>>[2],
  ) {
    await this.inner.releaseSavepoint?.(unwrap(conn), name, compile);
  }
  releaseConnection(conn: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(unwrap(conn));
  }
  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

function unwrap(conn: DatabaseConnection): DatabaseConnection {
  return conn instanceof SanitizingConnection ? conn.inner : conn;
}

/**
 * Wraps a dialect so that no query error leaves the storage layer with its parameters, and no
 * NUL in a parameter fails a query (storable.ts).
 */
export function sanitizingDialect(inner: Dialect): Dialect {
  return {
    createAdapter: () => inner.createAdapter(),
    createDriver: () => new SanitizingDriver(inner.createDriver()),
    createIntrospector: (db) => inner.createIntrospector(db),
    createQueryCompiler: () => inner.createQueryCompiler(),
  };
}
