import { request } from 'node:http';
import { createCredentialEvents } from '../http/credential-events.js';
import { type ApiToken, IdentityError, TokenStore, type User, UserStore } from '../identity/users.js';
import { redactUrl } from '../observability/redact.js';
import {
  type AdminErrorBody,
  type AdminOps,
  type AdminStatus,
  adminSocketPath,
  directAdmin,
  type MigrationOps,
  type RevokeResult,
} from '../server/admin-socket.js';
import { type Database, DataDirLockedError, openDatabase } from '../storage/database.js';
import { EmbeddedPostgresError } from '../storage/embedded-postgres/errors.js';
import { MigrationError, type MigrationState, migrate } from '../storage/migrate.js';
import { MAX_SOCKET_PATH_BYTES } from '../storage/unix-socket.js';
import { type CommonValues, loadCliConfig, resolveDataDir } from './context.js';
import { CliError, type CliIO } from './io.js';

/**
 * Where `shenma users` / `shenma tokens` run their operations:
 * - `database.url` set: PostgreSQL, opened directly (it takes any number of clients);
 * - otherwise, if `<dataDir>/admin.sock` answers, the running `shenma start` does it;
 * - otherwise the embedded database is opened directly. Its data-dir lock means a `shenma start`
 *   beginning meanwhile fails clearly instead of opening the database twice.
 */

export interface AdminSession {
  ops: AdminOps;
  close(): Promise<void>;
}

/** How long to keep retrying while the embedded database is held but nobody answers the socket. */
const DEFAULT_WAIT_MS = 5_000;
const PROBE_TIMEOUT_MS = 2_000;
/** Password hashing is the slowest thing the server does for us (scrypt, ~100 ms). */
const REQUEST_TIMEOUT_MS = 30_000;

export async function openAdmin(values: CommonValues, io: CliIO): Promise<AdminSession> {
  const { config } = loadCliConfig(values, io, { writeDefault: false });
  const url = config.database.url;
  if (url)
    return openDirect(
      () => openDatabase({ url, dataDir: '' }),
      `PostgreSQL at ${redactUrl(url)}`,
      config.redis,
    );

  const dataDir = resolveDataDir(values, io);
  const socketPath = adminSocketPath(dataDir);
  const waitMs = parseWaitMs(io.env.SHENMA_ADMIN_WAIT_MS);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const probe = await probeSocket(socketPath);
    if (probe.kind === 'answered') {
      io.err(`(via the running server, pid ${probe.status.pid})`);
      return { ops: socketAdmin(socketPath), close: async () => {} };
    }
    try {
      return await openDirect(() => openDatabase({ dataDir }), 'the embedded database');
    } catch (err) {
      if (!(err instanceof DataDirLockedError) || err.holder.pid === undefined) throw err;
      // Held by a live process that does not answer: a server still starting (migrations run
      // before the socket opens), another short-lived shenma command, or a stuck server.
      if (Date.now() >= deadline) throw lockedError(err, dataDir, probe, waitMs);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs `fn` on an admin session and closes it; identity errors become one-line CLI errors. */
export async function withAdmin<T>(
  values: CommonValues,
  io: CliIO,
  fn: (ops: AdminOps) => Promise<T>,
): Promise<T> {
  let session: AdminSession;
  try {
    session = await openAdmin(values, io);
  } catch (err) {
    throw toCliError(err);
  }
  try {
    return await fn(session.ops);
  } catch (err) {
    throw toCliError(err);
  } finally {
    await session.close();
  }
}

/** The failures a user can act on become one line; anything else keeps its stack for a bug report. */
export function toCliError(err: unknown): unknown {
  if (
    err instanceof IdentityError ||
    err instanceof AdminSocketError ||
    err instanceof DataDirLockedError ||
    err instanceof MigrationError ||
    err instanceof EmbeddedPostgresError
  ) {
    return new CliError(err.message);
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM') {
    return new CliError(`${(err as Error).message}: run this as the owner of the data directory`);
  }
  return err;
}

async function openDirect(
  open: () => Promise<Database>,
  target: string,
  redis?: { url?: string | undefined; keyPrefix: string },
): Promise<AdminSession> {
  let database: Database;
  try {
    database = await open();
  } catch (err) {
    if (err instanceof DataDirLockedError) throw err;
    throw reachError(err, target);
  }
  try {
    // As `shenma start` does on every start: the tables must exist before the first user.
    await migrate(database.db);
  } catch (err) {
    await database.close();
    throw reachError(err, target);
  }
  // Running servers on PostgreSQL hear of a disable or revoke through Redis, when there is one.
  const events = redis?.url ? createCredentialEvents(redis) : undefined;
  return {
    ops: directAdmin(new UserStore(database.db, { events }), new TokenStore(database.db, { events })),
    close: async () => {
      await events?.close();
      await database.close();
    },
  };
}

function reachError(err: unknown, target: string): unknown {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  const unreachable = ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', '28P01', '3D000'];
  if (unreachable.includes(code) || /timeout exceeded when trying to connect/i.test(String(err))) {
    return new CliError(`cannot reach ${target}: ${(err as Error).message}`);
  }
  return err;
}

function lockedError(err: DataDirLockedError, dataDir: string, probe: Probe, waitMs: number): CliError {
  const socketPath = adminSocketPath(dataDir);
  const since = err.holder.startedAt ? ` since ${err.holder.startedAt}` : '';
  const socket =
    Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES
      ? `its admin socket cannot exist (${socketPath} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; use a shorter --data-dir)`
      : probe.kind !== 'silent'
        ? `there is no admin socket at ${socketPath}`
        : `its admin socket ${socketPath} does not answer (${probe.reason})`;
  return new CliError(
    `the embedded database in ${dataDir} is held by process ${err.holder.pid}${since}, but ${socket} ` +
      `after ${Math.round(waitMs / 1000)}s: that process is a server still starting, a stuck server, or another ` +
      'shenma command. Try again in a moment; if it persists, stop that process',
  );
}

function parseWaitMs(text: string | undefined): number {
  const n = text === undefined ? Number.NaN : Number(text);
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_WAIT_MS;
}

// ---------------------------------------------------------------------------------------------
// The socket client: node:http over the Unix socket, JSON both ways.

type Probe =
  | { kind: 'answered'; status: AdminStatus }
  | { kind: 'absent' }
  | { kind: 'silent'; reason: string };

/** ENOENT (no socket) and ECONNREFUSED (a crashed server's leftover) both mean nobody is there. */
async function probeSocket(socketPath: string): Promise<Probe> {
  try {
    const status = await call<AdminStatus>(socketPath, 'GET', '/status', undefined, PROBE_TIMEOUT_MS);
    return { kind: 'answered', status };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') return { kind: 'absent' };
    return { kind: 'silent', reason: (err as Error).message };
  }
}

/** AdminOps over the socket; the server answers with the same objects, dates as strings. */
export function socketAdmin(socketPath: string): AdminOps {
  const send = <T>(method: string, path: string, body?: unknown) =>
    call<T>(socketPath, method, path, body, REQUEST_TIMEOUT_MS);
  const user = (name: string) => `/users/${encodeURIComponent(name)}`;
  return {
    addUser: async (input) => toUser((await send<{ user: UserJson }>('POST', '/users', input)).user),
    listUsers: async () => (await send<{ users: UserJson[] }>('GET', '/users')).users.map(toUser),
    setUserDisabled: async (name, disabled) =>
      toUser(
        (await send<{ user: UserJson }>('POST', `${user(name)}/${disabled ? 'disable' : 'enable'}`)).user,
      ),
    setPassword: async (name, password) => {
      await send('POST', `${user(name)}/password`, { password });
    },
    createToken: async ({ expiresAt, ...rest }) => {
      const body = { ...rest, ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}) };
      const created = await send<{ secret: string; token: TokenJson }>('POST', '/tokens', body);
      return { secret: created.secret, token: toToken(created.token) };
    },
    listTokens: async (name) => {
      const query = name === undefined ? '' : `?user=${encodeURIComponent(name)}`;
      return (await send<{ tokens: TokenJson[] }>('GET', `/tokens${query}`)).tokens.map(toToken);
    },
    revokeToken: async (id) => {
      const result = await send<Jsonified<RevokeResult>>('POST', `/tokens/${encodeURIComponent(id)}/revoke`);
      return result.status === 'not_found' ? result : { status: result.status, token: toToken(result.token) };
    },
  };
}

/** The running server's admin socket in `dataDir`, when one answers (`shenma db` uses it). */
export async function runningServer(
  dataDir: string,
): Promise<{ pid: number; migrations: MigrationOps } | undefined> {
  const socketPath = adminSocketPath(dataDir);
  const probe = await probeSocket(socketPath);
  if (probe.kind !== 'answered') return undefined;
  const send = <T>(method: string, path: string) =>
    call<T>(socketPath, method, path, undefined, REQUEST_TIMEOUT_MS);
  return {
    pid: probe.status.pid,
    migrations: {
      status: async () =>
        (await send<{ migrations: Jsonified<MigrationState>[] }>('GET', '/migrations')).migrations.map((m) =>
          m.appliedAt ? { name: m.name, appliedAt: new Date(m.appliedAt) } : { name: m.name },
        ),
      migrate: () => send<{ applied: string[] }>('POST', '/migrations/apply'),
    },
  };
}

/** A remote failure, rebuilt as the IdentityError a direct run would have thrown when it was one. */
export class AdminSocketError extends Error {
  override readonly name = 'AdminSocketError';
}

function call<T>(
  socketPath: string,
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<T> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method,
        path,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
        timeout: timeoutMs,
        // One connection per call, closed after it: a pooled keep-alive socket would hold the
        // CLI process (and the server's close) open for nothing.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          try {
            resolve(decodeReply<T>(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function decodeReply<T>(status: number, text: string): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AdminSocketError(`the server's admin socket answered ${status} with something other than JSON`);
  }
  if (status >= 200 && status < 300) return parsed as T;
  const error = (parsed as Partial<AdminErrorBody>).error;
  const message = error?.message ?? `the server's admin socket answered ${status}`;
  if (error?.code === 'invalid' || error?.code === 'exists' || error?.code === 'not_found') {
    throw new IdentityError(message, error.code);
  }
  throw new AdminSocketError(`the running server could not do it: ${message}`);
}

type Jsonified<T> = T extends Date ? string : T extends object ? { [K in keyof T]: Jsonified<T[K]> } : T;
type UserJson = Jsonified<User>;
type TokenJson = Jsonified<ApiToken>;

function toUser(u: UserJson): User {
  return { ...u, createdAt: new Date(u.createdAt) };
}

function toToken(t: TokenJson): ApiToken {
  const date = (s: string | null) => (s === null ? null : new Date(s));
  return {
    ...t,
    createdAt: new Date(t.createdAt),
    expiresAt: date(t.expiresAt),
    revokedAt: date(t.revokedAt),
    lastUsedAt: date(t.lastUsedAt),
  };
}

// ---------------------------------------------------------------------------------------------
// Output shared by `shenma users` and `shenma tokens`.

export interface Column<T> {
  title: string;
  value(row: T): string;
}

/** Left-aligned columns two spaces apart, a header first; no trailing spaces. */
export function formatTable<T>(columns: Column<T>[], rows: T[]): string[] {
  const cells = [columns.map((c) => c.title), ...rows.map((r) => columns.map((c) => c.value(r)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

/** UTC to the second: sortable and unambiguous in a table. */
export function formatDate(date: Date | null): string {
  return date ? date.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-';
}
