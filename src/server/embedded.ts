import { createServer } from 'node:net';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { chatRole } from '../chat/role.js';
import { completionRole } from '../completion/role.js';
import type { ShenmaConfig } from '../config/schema.js';
import { mountRoutes } from '../gateway/mount.js';
import type { AnyRoleFactory, AnyRoleParts, RoleContext, RoleFactory } from '../gateway/role.js';
import type { Role } from '../gateway/routes.js';
import { ROUTES } from '../gateway/routes.js';
import { type CredentialEvents, createCredentialEvents } from '../http/credential-events.js';
import { errorBody, fastifyErrorHandler } from '../http/errors.js';
import { identityRole } from '../identity/role.js';
import { TokenStore, UserStore } from '../identity/users.js';
import { kaptchaRole } from '../kaptcha/role.js';
import { createBackend, ModelRegistry, modelMetrics } from '../models/index.js';
import { loggerOptions } from '../observability/logger.js';
import { createRegistry } from '../observability/metrics.js';
import { opsHandlers } from '../ops/health.js';
import { type Database, openDatabase } from '../storage/database.js';
import { createEphemeralStore } from '../storage/ephemeral.js';
import { migrate } from '../storage/migrate.js';
import { trampolineRole } from '../trampoline/role.js';
import { type AdminSocket, startAdminSocket } from './admin-socket.js';

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
  /** Where the JSON log lines go (default stdout); tests read them. */
  logStream?: { write(line: string): void };
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

/** Bodies carry whole documents (prefix + suffix); 16 MiB is far above any real file. */
const BODY_LIMIT = 16 * 1024 * 1024;

/** Every role but ops (which the server itself mounts): a role left out here fails `tsc`. */
const ROLE_FACTORIES = {
  completion: completionRole,
  chat: chatRole,
  identity: identityRole,
  trampoline: trampolineRole,
  kaptcha: kaptchaRole,
} satisfies { [R in Exclude<Role, 'ops'>]: RoleFactory<R> };

export const EMBEDDED_ROLES: readonly AnyRoleFactory[] = Object.values(ROLE_FACTORIES);

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
  const publicUrl = (config.publicUrl ?? `http://127.0.0.1:${port}`).replace(/\/+$/, '');
  const registry = createRegistry();
  const db = await openDatabase({
    dataDir: opts.dataDir,
    ...(config.database.url ? { url: config.database.url } : {}),
  });
  const models = new ModelRegistry(
    config.models,
    (m) =>
      createBackend(m.kind, { url: m.url, chatApi: m.chatApi, ...(m.apiKey ? { apiKey: m.apiKey } : {}) }),
    modelMetrics(registry),
  );
  const app = Fastify({
    logger: {
      ...loggerOptions(opts.logLevel ?? config.log.level),
      ...(opts.logStream ? { stream: opts.logStream } : {}),
    },
    // One summary line per completion is logged by the handlers; per-request lines would double it.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    routerOptions: { ignoreDuplicateSlashes: true, ignoreTrailingSlash: true },
    requestIdHeader: 'x-request-id',
    trustProxy: false,
  });
  const ephemeral = createEphemeralStore(config.redis);
  const credentialChanges = createCredentialEvents(config.redis);
  const parts: AnyRoleParts[] = [];
  let adminSocket: AdminSocket | undefined;
  const closeAll = async () => {
    await adminSocket?.close().catch(() => {});
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
    for (const role of EMBEDDED_ROLES) parts.push(await role(ctx));

    await app.register(formbody, { bodyLimit: 1024 * 1024 });
    app.setErrorHandler(fastifyErrorHandler);
    app.setNotFoundHandler((req, reply) =>
      reply
        .code(404)
        .send(errorBody('not_found_error', `no route for ${req.method} ${req.url.split('?')[0]}`)),
    );
    app.addHook('onSend', async (req, reply) => {
      reply.header('x-request-id', req.id);
    });
    const authenticate = parts.find((p) => p.authenticate)?.authenticate;
    const readiness = [
      ...parts.flatMap((p) => p.readiness ?? []),
      {
        name: 'database',
        check: async () => {
          await db.ping();
          return { ok: true, detail: db.kind };
        },
      },
    ];
    await mountRoutes(
      app,
      ROUTES,
      Object.assign({}, ...parts.map((p) => p.handlers), opsHandlers(registry, readiness)),
      authenticate ? { authenticate } : {},
    );

    for (const p of parts) p.attach?.(app.server, authenticate);
    await models.startHealthChecks();
    // Only the embedded database needs it: `shenma users|tokens` open PostgreSQL themselves.
    if (db.kind === 'pglite') {
      const stores = {
        users: new UserStore(db.db, { events: credentialChanges }),
        tokens: new TokenStore(db.db, { events: credentialChanges }),
      };
      adminSocket = await startAdminSocket({ dataDir: opts.dataDir, ...stores, log: app.log });
    }
    const address = await app.listen({ port, host });
    const actualPort = new URL(address).port;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    return { url, publicUrl, app, db, models, credentialChanges, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
