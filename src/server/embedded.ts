import { type AddressInfo, createServer } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { type DestinationStream, type Logger, pino } from 'pino';
import { chatRole } from '../chat/role.js';
import { completionRole } from '../completion/role.js';
import type { ShenmaConfig } from '../config/schema.js';
import { mountRoutes } from '../gateway/mount.js';
import type { AnyRoleFactory, AnyRoleParts, RoleContext, RoleFactory } from '../gateway/role.js';
import type { Role } from '../gateway/routes.js';
import { ROUTES } from '../gateway/routes.js';
import { type CredentialEvents, createCredentialEvents } from '../http/credential-events.js';
import { errorBody, fastifyErrorHandler } from '../http/errors.js';
import { useDepthLimitedJson } from '../http/json-body.js';
import { requestIdGenerator } from '../http/request-id.js';
import { identityRole } from '../identity/role.js';
import { TokenStore, UserStore } from '../identity/users.js';
import { kaptchaRole } from '../kaptcha/role.js';
import { createBackend, ModelRegistry, modelMetrics } from '../models/index.js';
import { registerAccessLog } from '../observability/access-log.js';
import { loggerOptions } from '../observability/logger.js';
import { createRegistry } from '../observability/metrics.js';
import { isLoopback, opsHandlers } from '../ops/health.js';
import { type Database, DataDirLockedError, openDatabase } from '../storage/database.js';
import { createEphemeralStore } from '../storage/ephemeral.js';
import { migrate, migrationStatus } from '../storage/migrate.js';
import { startRetention } from '../storage/retention.js';
import { trampolineRole } from '../trampoline/role.js';
import { type AdminSocket, startAdminSocket } from './admin-socket.js';
import { choosePublicUrl } from './public-url.js';
import { logStartNotes } from './start-notes.js';
import { startStartingServer } from './starting-server.js';

/**
 * The embedded shape: every role of ours in one process, one port, the route table mounted by
 * the embedded gateway, embedded PostgreSQL (or a configured one), in-process cache and limits.
 */

export interface EmbeddedOptions {
  config: ShenmaConfig;
  dataDir: string;
  /** Overrides config.server.port (0 picks a free port). */
  port?: number;
  host?: string;
  /** Defaults to the configured log level; tests pass 'silent'. */
  logLevel?: string;
  /** Where the JSON log lines go; stdout by default (tests read them from a stream). */
  logStream?: DestinationStream;
  /** A logger made by the caller (`shenma start` logs before the server exists); wins over the above. */
  logger?: Logger;
  /**
   * The roles whose routes this process serves (a deployed service runs a subset); default all.
   * Health and metrics are always served; the identity role is always built for its credential
   * check, but its routes are mounted only when it is selected.
   */
  roles?: readonly ServedRole[];
}

export interface EmbeddedServer {
  url: string;
  publicUrl: string;
  app: FastifyInstance;
  db: Database;
  models: ModelRegistry;
  /** Where a disable or revoke made in this process is announced (admin commands use it). */
  credentialChanges: CredentialEvents;
  close(): Promise<void>;
}

/**
 * Routes in the table set their own limits; this covers what no route claims (404s), so an
 * unknown path cannot be used to make the server read a large body.
 */
const DEFAULT_BODY_LIMIT = 64 * 1024;
/**
 * FATAL lines PostgreSQL writes in normal operation: a connection tried while it starts, recovers
 * after a crash or stops (the readiness poll, Shenma's own shutdown). Not an operator's business.
 */
const ROUTINE_SERVER_LINE =
  /the database system is (starting up|shutting down|in recovery mode|not yet accepting connections)|terminating connection due to administrator command/;

/** The embedded server's own log lines: its failures are an operator's business, its routine lines are not. */
export function serverLogLevel(line: string): 'warn' | 'debug' {
  return /\b(PANIC|FATAL|ERROR)\b/.test(line) && !ROUTINE_SERVER_LINE.test(line) ? 'warn' : 'debug';
}

/**
 * How long a starting server waits for the data directory an admin command holds. `shenma users
 * add` run while `shenma start` is still starting opens the database itself for a moment; the
 * server should wait for it, not fail. A server that holds it waits the same and then fails.
 */
const LOCK_WAIT_MS = 10_000;

async function openWaitingForLock(log: Logger, open: () => Promise<Database>): Promise<Database> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let said = false;
  for (;;) {
    try {
      return await open();
    } catch (err) {
      if (!(err instanceof DataDirLockedError) || Date.now() >= deadline) throw err;
      if (!said) {
        log.info(
          { holder: err.holder.pid },
          'the data directory is in use by another Shenma process; waiting for it',
        );
        said = true;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * Every role but ops (which the server itself mounts): a role left out here fails `tsc`. Identity
 * comes first: its credential check is used by the others.
 */
const ROLE_FACTORIES = {
  identity: identityRole,
  completion: completionRole,
  chat: chatRole,
  trampoline: trampolineRole,
  kaptcha: kaptchaRole,
} satisfies { [R in Exclude<Role, 'ops'>]: RoleFactory<R> };

export const EMBEDDED_ROLES: readonly AnyRoleFactory[] = Object.values(ROLE_FACTORIES);

/** The roles one process can serve (`shenma start --roles`). */
export type ServedRole = keyof typeof ROLE_FACTORIES;
export const SERVED_ROLE_NAMES = Object.keys(ROLE_FACTORIES) as ServedRole[];

/** Parses `completion,chat`; throws a message naming the unknown role. */
export function parseRoleList(text: string): ServedRole[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0) throw new Error(`no role given; choose from ${SERVED_ROLE_NAMES.join(', ')}`);
  for (const n of names) {
    if (!Object.hasOwn(ROLE_FACTORIES, n))
      throw new Error(`unknown role "${n}"; choose from ${SERVED_ROLE_NAMES.join(', ')}`);
  }
  return [...new Set(names as ServedRole[])];
}

/** The issuer and redirect URIs must name the real port, so port 0 is resolved before building. */
async function resolvePort(host: string, port: number): Promise<number> {
  if (port !== 0) return port;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(0, host, resolve));
  const chosen = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  return chosen;
}

export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const { config } = opts;
  const host = opts.host ?? config.server.host;
  const port = await resolvePort(host, opts.port ?? config.server.port);
  const log =
    opts.logger ??
    (opts.logStream
      ? pino(loggerOptions(opts.logLevel ?? config.log.level), opts.logStream)
      : pino(loggerOptions(opts.logLevel ?? config.log.level)));
  const publicUrlChoice = choosePublicUrl(config.publicUrl, host, port);
  const publicUrl = publicUrlChoice.url;
  const registry = createRegistry();
  // Answers /healthz (and 503 elsewhere) while the database opens: creating the embedded one takes a while.
  const starting = await startStartingServer(host, port);
  let db: Database;
  try {
    db = await openWaitingForLock(log, () =>
      openDatabase({
        dataDir: opts.dataDir,
        ...(config.database.url ? { url: config.database.url } : {}),
        onCreate: (pgdata) =>
          log.info({ pgdata }, 'creating the embedded database (first start only; this takes a while)…'),
        onRelocated: (pgdata, reason) =>
          log.info(
            { pgdata, reason },
            `the embedded database is in ${pgdata}, outside the data directory: ${reason}`,
          ),
        onServerLog: (line) => log[serverLogLevel(line)]({ postgres: line }, 'embedded database'),
      }),
    );
  } catch (err) {
    await starting.close();
    throw err;
  }
  const models = new ModelRegistry(
    config.models,
    (m) =>
      createBackend(m.kind, { url: m.url, chatApi: m.chatApi, ...(m.apiKey ? { apiKey: m.apiKey } : {}) }),
    modelMetrics(registry),
  );
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Fastify's own request lines are off: the access log (observability/access-log.ts) writes one per request.
    // One spelling everywhere: the ledger, the chat log and the access log say requestId.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    bodyLimit: DEFAULT_BODY_LIMIT,
    routerOptions: { ignoreDuplicateSlashes: true, ignoreTrailingSlash: true },
    // The client's x-request-id is read by the generator (and checked); restarts never reuse ids.
    requestIdHeader: false,
    genReqId: requestIdGenerator(),
    trustProxy: false,
  });
  const ephemeral = createEphemeralStore(config.redis);
  const credentialChanges = createCredentialEvents(config.redis);
  const parts: AnyRoleParts[] = [];
  let adminSocket: AdminSocket | undefined;
  let retention: { stop(): Promise<void> } | undefined;
  let shuttingDown = false;
  const closeAll = async () => {
    shuttingDown = true;
    await starting.close().catch(() => {});
    // Work in flight first, while clients are still connected to hear how it ended.
    await Promise.all(parts.map((p) => p.drain?.(config.server.drainMs).catch(() => {})));
    await adminSocket?.close().catch(() => {});
    await retention?.stop().catch(() => {});
    // Open sockets would keep app.close() waiting forever: the IDE's chat socket stays connected.
    for (const p of parts) await p.detach?.().catch(() => {});
    await app.close().catch(() => {});
    for (const p of [...parts].reverse()) await p.close?.().catch(() => {});
    await models.close().catch(() => {});
    await ephemeral.close().catch(() => {});
    await credentialChanges.close().catch(() => {});
    await db.close().catch(() => {});
  };
  try {
    await migrate(db.db);
    const loopback = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    const internalUrl = `http://${loopback.includes(':') ? `[${loopback}]` : loopback}:${port}`;
    const ctx: RoleContext = {
      internalUrl,
      config,
      db,
      dataDir: opts.dataDir,
      publicUrl,
      registry,
      models,
      log: app.log,
      ephemeral,
      credentialChanges,
    };
    const selected = new Set<string>(opts.roles ?? SERVED_ROLE_NAMES);
    const servedParts: AnyRoleParts[] = [];
    for (const name of SERVED_ROLE_NAMES) {
      if (name !== 'identity' && !selected.has(name)) continue;
      const built = await (ROLE_FACTORIES[name] as AnyRoleFactory)(ctx);
      parts.push(built);
      if (selected.has(name)) servedParts.push(built);
    }

    registerAccessLog(app, registry);
    // JSON is the one body the API takes: text/plain is not parsed either, so a body of any other
    // type is a 415 before a handler sees it. Form bodies are parsed only on the routes the route
    // table marks `forms` (gateway/mount.ts).
    app.removeContentTypeParser('text/plain');
    useDepthLimitedJson(app);
    app.setErrorHandler(fastifyErrorHandler);
    app.setNotFoundHandler((req, reply) =>
      reply
        .code(404)
        .send(errorBody('not_found_error', `no route for ${req.method} ${req.url.split('?')[0]}`)),
    );
    // Callback style, not async: an async hook costs a promise per request on every route.
    app.addHook('onSend', (req, reply, payload, done) => {
      reply.header('x-request-id', req.id);
      done(null, payload);
    });
    const authenticate = parts.find((p) => p.authenticate)?.authenticate;
    const readiness = [
      // A draining server is alive (/healthz) but must get no new work: load balancers and
      // Kubernetes read /readyz to stop sending it.
      {
        name: 'server',
        check: async () =>
          shuttingDown ? { ok: false, detail: 'shutting down: finishing answers in flight' } : { ok: true },
      },
      ...servedParts.flatMap((p) => p.readiness ?? []),
      {
        name: 'database',
        // A write, not a ping: reads keep working on a full disk while logins and chats fail.
        check: async () => {
          await db.checkWritable();
          return { ok: true, detail: db.kind };
        },
      },
    ];
    await mountRoutes(
      app,
      ROUTES.filter((r) => r.role === 'ops' || selected.has(r.role)),
      Object.assign(
        {},
        ...servedParts.map((p) => p.handlers),
        opsHandlers(registry, readiness, { host, metricsToken: config.server.metricsToken }),
      ),
      { ...(authenticate ? { authenticate } : {}), models: config.models },
    );

    for (const p of servedParts) p.attach?.(app.server, authenticate);
    await models.startHealthChecks();
    retention = startRetention(
      db.db,
      { maxAgeDays: config.retention.feedbackDays, maxRows: config.retention.feedbackMaxRows },
      app.log,
    );
    // Only the embedded database needs it: `shenma users|tokens` open PostgreSQL themselves.
    if (db.kind === 'embedded') {
      const stores = {
        users: new UserStore(db.db, { events: credentialChanges }),
        tokens: new TokenStore(db.db, { events: credentialChanges }),
      };
      const migrations = { status: () => migrationStatus(db.db), migrate: () => migrate(db.db) };
      adminSocket = await startAdminSocket({ dataDir: opts.dataDir, ...stores, migrations, log: app.log });
    }
    if (!isLoopback(host) && !config.server.metricsToken) {
      app.log.warn(
        `listening on ${host}: /metrics and the /readyz details answer loopback callers only; set server.metricsToken to scrape them from elsewhere`,
      );
    }
    await app.ready();
    await starting.close();
    await app.listen({ port, host });
    // From the socket, not the URL Fastify prints: a URL drops the port when it is 80.
    const actualPort = (app.server.address() as AddressInfo).port;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    logStartNotes(log, { url, publicUrlChoice, dataDir: opts.dataDir, db, models });
    return { url, publicUrl, app, db, models, credentialChanges, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
