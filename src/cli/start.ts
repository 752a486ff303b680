import { pino } from 'pino';
import { loggerOptions } from '../observability/logger.js';
import { startEmbedded } from '../server/embedded.js';
import { DataDirLockedError } from '../storage/database.js';
import { loadCliConfig, parsePort, resolveDataDir } from './context.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';
import { USAGE } from './usage.js';

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
  });
  if (values.help) {
    io.out(USAGE.start);
    return 0;
  }
  const port = parsePort(values.port);
  const loaded = loadCliConfig(values, io, { writeDefault: true, ...(port !== undefined ? { port } : {}) });
  // stdout carries JSON log lines only, start-up notes included, so log collectors can parse all of it.
  const log = pino(loggerOptions(loaded.config.log.level));
  if (loaded.created) {
    log.info(
      { file: loaded.file },
      `wrote ${loaded.file} with commented defaults (a local Ollama at http://127.0.0.1:11434 for completion and chat); edit it to point at your models`,
    );
  }
  const dataDir = resolveDataDir(values, io);
  let server: Awaited<ReturnType<typeof startEmbedded>>;
  try {
    server = await startEmbedded({
      config: loaded.config,
      dataDir,
      logger: log,
      ...(port !== undefined ? { port } : {}),
      ...(values.host ? { host: values.host } : {}),
    });
  } catch (err) {
    // Expected operator mistakes get one line, not a stack trace.
    if (err instanceof DataDirLockedError) throw new CliError(err.message);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new CliError(
        `port ${port ?? loaded.config.server.port} is already in use (--port N picks another)`,
      );
    if (code === 'EACCES')
      throw new CliError(`not allowed to listen on port ${port ?? loaded.config.server.port}`);
    if (code === 'EADDRNOTAVAIL')
      throw new CliError(
        `cannot listen on ${values.host ?? loaded.config.server.host}: not an address of this machine`,
      );
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
    'shutting down: answers in flight may finish, new requests are refused',
  );
  await server.close();
  log.info('shut down');
  return 0;
}
