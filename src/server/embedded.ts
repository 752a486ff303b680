import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { CompletionCache } from '../completion/cache.js';
import { CompletionEngine } from '../completion/engine.js';
import { completionHandlers } from '../completion/routes.js';
import { SupersedeRegistry } from '../completion/supersede.js';
import { telemetryHandlers } from '../completion/telemetry.js';
import type { ShenmaConfig } from '../config/schema.js';
import { mountRoutes } from '../gateway/embedded.js';
import { ROUTES } from '../gateway/routes.js';
import { errorBody, fastifyErrorHandler } from '../http/errors.js';
import { createBackend } from '../models/index.js';
import { ModelRegistry } from '../models/pool.js';
import { loggerOptions } from '../observability/logger.js';
import { completionMetrics, createRegistry, modelMetrics } from '../observability/metrics.js';
import { modelReadiness, opsHandlers } from '../ops/health.js';
import { type Database, openDatabase } from '../storage/database.js';
import { migrate } from '../storage/migrate.js';

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
}

export interface EmbeddedServer {
  url: string;
  publicUrl: string;
  app: FastifyInstance;
  db: Database;
  models: ModelRegistry;
  close(): Promise<void>;
}

/** Bodies carry whole documents (prefix + suffix); 16 MiB is far above any real file. */
const BODY_LIMIT = 16 * 1024 * 1024;

export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const { config } = opts;
  const registry = createRegistry();
  const db = await openDatabase({
    dataDir: opts.dataDir,
    ...(config.database.url ? { url: config.database.url } : {}),
  });
  let models: ModelRegistry | undefined;
  let app: FastifyInstance | undefined;
  try {
    await migrate(db.db);
    models = new ModelRegistry(
      config.models,
      (m) => createBackend(m.kind, { url: m.url, ...(m.apiKey ? { apiKey: m.apiKey } : {}) }),
      modelMetrics(registry),
    );
    const metrics = completionMetrics(registry);
    const engine = new CompletionEngine({
      config: config.completion,
      models,
      cache: new CompletionCache(config.completion.cache.maxEntries, config.completion.cache.ttlMs),
      supersede: new SupersedeRegistry(),
      metrics,
      logCode: config.log.logCode,
    });

    app = Fastify({
      logger: loggerOptions(opts.logLevel ?? config.log.level),
      // One summary line per completion is logged by the handlers; per-request lines would double it.
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: BODY_LIMIT,
      routerOptions: { ignoreDuplicateSlashes: true, ignoreTrailingSlash: true },
      requestIdHeader: 'x-request-id',
      trustProxy: false,
    });
    app.setErrorHandler(fastifyErrorHandler);
    app.setNotFoundHandler((req, reply) =>
      reply
        .code(404)
        .send(errorBody('not_found_error', `no route for ${req.method} ${req.url.split('?')[0]}`)),
    );
    app.addHook('onSend', async (req, reply) => {
      reply.header('x-request-id', req.id);
    });
    mountRoutes(app, ROUTES, {
      ...completionHandlers(engine, metrics),
      ...telemetryHandlers(db, config.completion),
      ...opsHandlers(registry, [
        modelReadiness(models, 'completion'),
        {
          name: 'database',
          check: async () => {
            await db.ping();
            return { ok: true, detail: db.kind };
          },
        },
      ]),
    });

    await models.startHealthChecks();
    const port = opts.port ?? config.server.port;
    const host = opts.host ?? config.server.host;
    const address = await app.listen({ port, host });
    const actualPort = new URL(address).port;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    const publicUrl = config.publicUrl ?? `http://127.0.0.1:${actualPort}`;
    const started = { app, models };
    return {
      url,
      publicUrl,
      app,
      db,
      models,
      close: async () => {
        await started.app.close();
        await started.models.close();
        await db.close();
      },
    };
  } catch (err) {
    await app?.close().catch(() => {});
    await models?.close().catch(() => {});
    await db.close().catch(() => {});
    throw err;
  }
}
