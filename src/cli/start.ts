import { redactUrl } from '../observability/redact.js';
import { parseRoleList, SERVED_ROLE_NAMES, type ServedRole, startEmbedded } from '../server/embedded.js';
import { DataDirLockedError } from '../storage/database.js';
import { dataDirProblem, loadCliConfig, parsePort, resolveDataDir } from './context.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';

const HELP = `Usage: shenma start [--config FILE] [--port N] [--host ADDR] [--data-dir DIR] [--roles LIST]

Runs every Shenma role in one process on one port (default 9080): the embedded shape.
Without --config, ./shenma.yaml is used and written with commented defaults if missing.

  --roles LIST   Serve only these roles (comma-separated: ${SERVED_ROLE_NAMES.join(',')}), as each
                 service of the deployed shape does; /healthz, /readyz and /metrics are always served.`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    roles: { type: 'string' },
  });
  if (values.help) {
    io.out(HELP);
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
  if (loaded.created) {
    io.out(
      `wrote ${loaded.file} with commented defaults (a local Ollama at http://127.0.0.1:11434); edit it to point at your model`,
    );
  }
  const dataDir = resolveDataDir(values, io);
  // Everything the server writes (database files, keys, sockets) is for this user only.
  process.umask(0o077);
  let server: Awaited<ReturnType<typeof startEmbedded>>;
  try {
    server = await startEmbedded({
      config: loaded.config,
      dataDir,
      ...(port !== undefined ? { port } : {}),
      ...(values.host ? { host: values.host } : {}),
      ...(roles ? { roles } : {}),
    });
  } catch (err) {
    // Expected operator mistakes get one line, not a stack trace.
    const message = startFailure(err, port ?? loaded.config.server.port, dataDir);
    if (message) throw new CliError(message);
    throw err;
  }
  io.out(
    `shenma listening on ${server.url} (public URL ${server.publicUrl}), data in ${dataDir}, database ${server.db.kind}` +
      (roles ? `, roles ${roles.join(',')}` : ''),
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

/**
 * One line for the start failures an operator can fix: the port, or the data directory (named by
 * the path that failed, so a read-only data directory is not mistaken for a port problem).
 */
export function startFailure(err: unknown, port: number, dataDir: string): string | undefined {
  if (err instanceof DataDirLockedError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') return `port ${port} is already in use (--port N picks another)`;
  if (e.code === 'EACCES' && e.syscall === 'listen') return `not allowed to listen on port ${port}`;
  return dataDirProblem(err, dataDir);
}
