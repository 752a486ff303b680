import { startEmbedded } from '../server/embedded.js';
import { loadCliConfig, parsePort, resolveDataDir } from './context.js';
import type { CliIO } from './io.js';
import { parseCommandArgs } from './io.js';

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
  const server = await startEmbedded({
    config: loaded.config,
    dataDir,
    ...(port !== undefined ? { port } : {}),
    ...(values.host ? { host: values.host } : {}),
  });
  io.out(
    `shenma listening on ${server.url} (public URL ${server.publicUrl}), data in ${dataDir}, database ${server.db.kind}`,
  );
  for (const g of server.models.groups.values()) {
    for (const r of g.replicas) {
      if (r.healthy === false) {
        io.out(
          `warning: model "${g.name}" at ${r.config.url} is not reachable (${r.lastError}); completions answer 503 until it is`,
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
