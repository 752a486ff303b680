import { pino } from 'pino';
import { loggerOptions } from '../observability/logger.js';
import { parseRoleList, type ServedRole, startEmbedded } from '../server/embedded.js';
import { DataDirLockedError } from '../storage/database.js';
import { EmbeddedPostgresError } from '../storage/embedded-postgres/errors.js';
import { dataDirProblem, loadCliConfig, parsePort, resolveDataDir } from './context.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';
import { USAGE } from './usage.js';

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    roles: { type: 'string' },
  });
  if (values.help) {
    io.out(USAGE.start);
    return 0;
  }
  const port = parsePort(values.port);
  let roles: ServedRole[] | undefined;
  if (values.roles !== undefined) {
    try {
      roles = parseRoleList(values.roles);
    } catch (err) {
      throw new CliError(`--roles: ${(err as Error).message}`, 2);
    }
  }
  const loaded = loadCliConfig(values, io, { writeDefault: true, ...(port !== undefined ? { port } : {}) });
  // stdout carries JSON log lines only, start-up notes included, so log collectors can parse all of it.
  const log = pino(loggerOptions(loaded.config.log.level));
  if (loaded.created) {
    log.info(
      { file: loaded.file },
      `wrote ${loaded.file} with commented defaults (a local Ollama at http://127.0.0.1:11434 for completion and chat); edit it to point at your models`,
    );
  } else if (loaded.file) {
    // Which file took effect: after an edit and a restart, the operator's first question.
    log.info({ file: loaded.file }, `configuration from ${loaded.file}`);
  }
  const dataDir = resolveDataDir(values, io);
  // Everything the server writes (database files, keys, sockets) is for this user only.
  process.umask(0o077);
  let server: Awaited<ReturnType<typeof startEmbedded>>;
  try {
    server = await startEmbedded({
      config: loaded.config,
      dataDir,
      logger: log,
      ...(port !== undefined ? { port } : {}),
      ...(values.host ? { host: values.host } : {}),
      ...(roles ? { roles } : {}),
    });
  } catch (err) {
    // Expected operator mistakes get one line, not a stack trace.
    const message = startFailure(
      err,
      port ?? loaded.config.server.port,
      values.host ?? loaded.config.server.host,
      dataDir,
    );
    if (message) throw new CliError(message);
    throw err;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  // A second Ctrl-C does not wait for the drain.
  const force = () => {
    log.warn('second signal: stopping without waiting for answers in flight');
    process.exit(130);
  };
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  log.info(
    { signal, drainMs: loaded.config.server.drainMs },
    'shutting down: answers in flight may finish; new chats are refused and /readyz says not ready',
  );
  await server.close();
  log.info('shut down');
  return 0;
}

/**
 * One line for the start failures an operator can fix: the port, or the data directory (named by
 * the path that failed, so a read-only data directory is not mistaken for a port problem).
 */
export function startFailure(err: unknown, port: number, host: string, dataDir: string): string | undefined {
  if (err instanceof DataDirLockedError || err instanceof EmbeddedPostgresError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') return `port ${port} is already in use (--port N picks another)`;
  if (e.code === 'EACCES' && e.syscall === 'listen') return `not allowed to listen on port ${port}`;
  if (e.code === 'EADDRNOTAVAIL') return `cannot listen on ${host}: not an address of this machine`;
  return dataDirProblem(err, dataDir);
}
