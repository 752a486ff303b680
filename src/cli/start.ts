import { redactUrl } from '../observability/redact.js';
import { startEmbedded } from '../server/embedded.js';
import { DataDirLockedError } from '../storage/database.js';
import { loadCliConfig, parsePort, resolveDataDir } from './context.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';

const HELP = `Usage: shenma start [--config FILE] [--port N] [--host ADDR] [--data-dir DIR]

Runs every Shenma role in one process on one port (default 9080): the embedded shape.
Without --config, ./shenma.yaml is used and written with commented defaults if missing.`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  const port = parsePort(values.port);
  const loaded = loadCliConfig(values, io, { writeDefault: true, ...(port !== undefined ? { port } : {}) });
  if (loaded.created) {
    io.out(
      `wrote ${loaded.file} with commented defaults (a local Ollama at http://127.0.0.1:11434); edit it to point at your model`,
    );
  }
  const dataDir = resolveDataDir(values, io);
  let server: Awaited<ReturnType<typeof startEmbedded>>;
  try {
    server = await startEmbedded({
      config: loaded.config,
      dataDir,
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
    throw err;
  }
  io.out(
    `shenma listening on ${server.url} (public URL ${server.publicUrl}), data in ${dataDir}, database ${server.db.kind}`,
  );
  for (const g of server.models.groups.values()) {
    for (const r of g.replicas) {
      if (r.healthy === false) {
        io.out(
          `warning: model "${g.name}" at ${redactUrl(r.config.url)} is not reachable (${r.lastError}); completions answer 503 until it is`,
        );
      }
    }
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  io.out('shenma: shutting down');
  await server.close();
  return 0;
}
