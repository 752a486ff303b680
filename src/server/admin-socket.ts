import { chmod, lstat, stat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { z } from 'zod';
import {
  type ApiToken,
  IdentityError,
  type TokenStore,
  type User,
  type UserStore,
} from '../identity/users.js';
import type { MigrationState } from '../storage/migrate.js';
import { MAX_SOCKET_PATH_BYTES } from '../storage/unix-socket.js';

/**
 * The admin channel of a running `shenma start` on the embedded database.
 *
 * One process at a time owns the data directory's embedded PostgreSQL server (see
 * `acquireDataDirLock`), so while the server runs, `shenma users …` / `shenma tokens …` do not
 * open the database themselves; they send the
 * operation here instead and the server runs it on its own connection (so it sees the change at
 * once).
 *
 * Security: there is no password or token on this channel. Authentication is the filesystem: the
 * socket lives in the data directory (created 0700 by the CLI) and is itself chmod 0600, and on
 * Linux connecting to a Unix socket needs write permission on it, so only the data directory's
 * owner (and root) can connect. Both layers are kept because some systems ignore the socket's
 * own mode. The socket is never bound to TCP.
 */

export const ADMIN_SOCKET_FILE = 'admin.sock';

export function adminSocketPath(dataDir: string): string {
  return join(dataDir, ADMIN_SOCKET_FILE);
}

/** What each administrative operation does, whoever runs it: the CLI directly, or this socket. */
export interface AdminOps {
  addUser(input: { name: string; password?: string; email?: string }): Promise<User>;
  listUsers(): Promise<User[]>;
  setUserDisabled(name: string, disabled: boolean): Promise<User>;
  setPassword(name: string, password: string): Promise<void>;
  createToken(input: {
    user: string;
    name?: string;
    expiresAt?: Date;
  }): Promise<{ secret: string; token: ApiToken }>;
  /** Every token, or one user's (an unknown user is an error, not an empty list). */
  listTokens(user?: string): Promise<ApiToken[]>;
  revokeToken(id: string): Promise<RevokeResult>;
}

export type RevokeResult =
  | { status: 'revoked'; token: ApiToken }
  | { status: 'already_revoked'; token: ApiToken }
  | { status: 'not_found' };

/** The operations on the stores; the CLI uses it when it owns the database, the socket always. */
export function directAdmin(users: UserStore, tokens: TokenStore): AdminOps {
  return {
    addUser: ({ name, password, email }) => users.add(name, password, email),
    listUsers: () => users.list(),
    setUserDisabled: (name, disabled) => users.setDisabled(name, disabled),
    setPassword: (name, password) => users.setPassword(name, password),
    createToken: ({ user, name, expiresAt }) =>
      tokens.create(user, { ...(name !== undefined ? { name } : {}), ...(expiresAt ? { expiresAt } : {}) }),
    listTokens: async (user) => {
      if (user !== undefined && !(await users.findByName(user))) {
        throw new IdentityError(`no user named "${user}"`, 'not_found');
      }
      return tokens.list(user);
    },
    revokeToken: async (id) => {
      const revoked = await tokens.revoke(id);
      // revoke() says only whether it changed a row; tell "unknown id" from "already revoked".
      const token = (await tokens.list()).find((t) => t.id === id);
      if (!token) return { status: 'not_found' };
      return { status: revoked ? 'revoked' : 'already_revoked', token };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Wire format: JSON, dates as ISO strings. The client (src/cli/admin-client.ts) turns them back.

export interface AdminStatus {
  pid: number;
  dataDir: string;
  startedAt: string;
}

/** Errors carry the IdentityError code so the CLI can report them exactly as a direct run would. */
export interface AdminErrorBody {
  error: { code: IdentityError['code'] | 'bad_request' | 'internal'; message: string };
}

const STATUS_BY_CODE: Record<IdentityError['code'], number> = { invalid: 400, not_found: 404, exists: 409 };

const addUserBody = z.strictObject({
  name: z.string(),
  password: z.string().optional(),
  email: z.string().optional(),
});
const passwordBody = z.strictObject({ password: z.string() });
const createTokenBody = z.strictObject({
  user: z.string(),
  name: z.string().optional(),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
});
const nameParams = z.object({ name: z.string() });
const idParams = z.object({ id: z.string() });
const tokensQuery = z.object({ user: z.string().optional() });

/** What `shenma db status|migrate` ask a running server for. */
export interface MigrationOps {
  status(): Promise<MigrationState[]>;
  migrate(): Promise<{ applied: string[] }>;
}

export interface AdminSocketOptions {
  dataDir: string;
  users: UserStore;
  tokens: TokenStore;
  migrations?: MigrationOps;
  log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;
}

export interface AdminSocket {
  /** The socket's path, or undefined when it could not be created (the server runs on without it). */
  path: string | undefined;
  close(): Promise<void>;
}

/**
 * Listens on `<dataDir>/admin.sock`. The caller must hold the data-dir lock: that is what makes
 * any socket file already there a leftover of a crashed server, safe to replace.
 */
export async function startAdminSocket(opts: AdminSocketOptions): Promise<AdminSocket> {
  const path = adminSocketPath(opts.dataDir);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    opts.log.warn(
      `admin socket not started: ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes, the limit for a Unix socket; ` +
        'use a shorter --data-dir to manage users while the server runs',
    );
    return { path: undefined, close: async () => {} };
  }
  await warnIfDataDirOpen(opts.dataDir, opts.log);
  await removeStaleSocket(path);

  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  registerRoutes(app, directAdmin(opts.users, opts.tokens), opts);
  await app.listen({ path });
  try {
    // 0600 at once. Between bind and chmod the file has the umask's mode, but the 0700 data
    // directory already keeps everyone else from reaching it.
    await chmod(path, 0o600);
  } catch (err) {
    await app.close();
    throw err;
  }
  const { ino } = await stat(path);
  opts.log.info(`admin socket listening on ${path}`);
  let closed = false;
  return {
    path,
    close: async () => {
      if (closed) return;
      closed = true;
      await app.close();
      // Node unlinks the socket on close; make sure, without removing a newer server's socket.
      const now = await lstat(path).catch(() => undefined);
      if (now?.ino === ino) await unlink(path).catch(() => {});
    },
  };
}

function registerRoutes(app: FastifyInstance, ops: AdminOps, opts: AdminSocketOptions): void {
  const startedAt = new Date().toISOString();
  const { log } = opts;

  app.setErrorHandler((err, _req, reply) => sendError(reply, err, log));
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send(errorBody('bad_request', `no admin route ${req.method} ${req.url}`)),
  );

  app.get(
    '/status',
    async (): Promise<AdminStatus> => ({ pid: process.pid, dataDir: opts.dataDir, startedAt }),
  );

  const { migrations } = opts;
  if (migrations) {
    app.get('/migrations', async () => ({ migrations: await migrations.status() }));
    app.post('/migrations/apply', async () => {
      const result = await migrations.migrate();
      if (result.applied.length > 0) log.info({ applied: result.applied }, 'admin: migrations applied');
      return result;
    });
  }

  app.get('/users', async () => ({ users: await ops.listUsers() }));
  app.post('/users', async (req, reply) => {
    const body = addUserBody.parse(req.body);
    const user = await ops.addUser(body);
    log.info({ user: user.name, password: body.password !== undefined }, 'admin: user added');
    return reply.code(201).send({ user });
  });
  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post(`/users/:name/${action}`, async (req) => {
      const { name } = nameParams.parse(req.params);
      const user = await ops.setUserDisabled(name, disabled);
      log.info({ user: name }, `admin: user ${action}d`);
      return { user };
    });
  }
  app.post('/users/:name/password', async (req) => {
    const { name } = nameParams.parse(req.params);
    await ops.setPassword(name, passwordBody.parse(req.body).password);
    log.info({ user: name }, 'admin: password changed');
    return { ok: true };
  });

  app.get('/tokens', async (req) => ({ tokens: await ops.listTokens(tokensQuery.parse(req.query).user) }));
  app.post('/tokens', async (req, reply) => {
    const body = createTokenBody.parse(req.body);
    const created = await ops.createToken({
      user: body.user,
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.expiresAt ? { expiresAt: new Date(body.expiresAt) } : {}),
    });
    log.info({ user: body.user, token: created.token.id }, 'admin: token created');
    return reply.code(201).send(created);
  });
  app.post('/tokens/:id/revoke', async (req) => {
    const { id } = idParams.parse(req.params);
    const result = await ops.revokeToken(id);
    if (result.status === 'revoked') log.info({ token: id }, 'admin: token revoked');
    return result;
  });
}

function errorBody(code: AdminErrorBody['error']['code'], message: string): AdminErrorBody {
  return { error: { code, message } };
}

function sendError(reply: FastifyReply, err: unknown, log: AdminSocketOptions['log']): FastifyReply {
  if (err instanceof IdentityError) {
    return reply.code(STATUS_BY_CODE[err.code]).send(errorBody(err.code, err.message));
  }
  if (err instanceof z.ZodError) {
    const issue = err.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    return reply.code(400).send(errorBody('bad_request', `${where}${issue?.message ?? 'invalid request'}`));
  }
  const status = (err as { statusCode?: number }).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return reply.code(status).send(errorBody('bad_request', (err as Error).message));
  }
  log.error({ err }, 'admin: operation failed');
  return reply.code(500).send(errorBody('internal', (err as Error).message ?? String(err)));
}

/**
 * The socket's mode is the real guard; a data dir others can enter is still worth a warning.
 * Group search alone (0710) is what Shenma itself sets when the embedded database runs as its own
 * user (as root), so that user can reach its cluster: not a warning.
 */
export function dataDirModeWarning(dataDir: string, mode: number): string | undefined {
  if ((mode & 0o067) === 0) return undefined;
  return `data directory ${dataDir} has mode ${(mode & 0o777).toString(8)}; 0700 is expected (chmod 700 it)`;
}

async function warnIfDataDirOpen(dataDir: string, log: AdminSocketOptions['log']): Promise<void> {
  const { mode } = await stat(dataDir);
  const warning = dataDirModeWarning(dataDir, mode);
  if (warning) log.warn(warning);
}

/** Replaces a socket left by a crashed server; refuses anything that is not a dead socket. */
async function removeStaleSocket(path: string): Promise<void> {
  const existing = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!existing) return;
  if (!existing.isSocket()) {
    throw new Error(`${path} exists and is not a socket; move it away so the admin socket can be created`);
  }
  if (await socketAnswers(path)) {
    throw new Error(`another process is already serving the admin socket ${path}`);
  }
  await unlink(path);
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
