import { redactUrl } from '../observability/redact.js';
import type { MigrationOps } from '../server/admin-socket.js';
import { type Database, DataDirLockedError, openDatabase } from '../storage/database.js';
import { clusterDirOf } from '../storage/embedded-postgres/cluster-location.js';
import { EmbeddedPostgresError } from '../storage/embedded-postgres/errors.js';
import { MigrationError, migrate, migrationStatus } from '../storage/migrate.js';
import { runningServer, toCliError as toAdminCliError } from './admin-client.js';
import { loadCliConfig, resolveDataDir } from './context.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';
import { USAGE } from './usage.js';

const SUBCOMMANDS = {
  migrate: runMigrate,
  status: runStatus,
} as const satisfies Record<string, (migrations: MigrationOps, io: CliIO) => Promise<number>>;

function direct(database: Database): MigrationOps {
  return { status: () => migrationStatus(database.db), migrate: () => migrate(database.db) };
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { 'database-url': { type: 'string' } }, true);
  if (values.help) {
    io.out(USAGE.db);
    return 0;
  }
  const [subcommand, ...extra] = positionals;
  if (!subcommand) throw new CliError(`missing subcommand\n\n${USAGE.db}`, 2);
  if (!Object.hasOwn(SUBCOMMANDS, subcommand)) {
    throw new CliError(`unknown subcommand "${subcommand}"\n\n${USAGE.db}`, 2);
  }
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"`, 2);
  const action = SUBCOMMANDS[subcommand as keyof typeof SUBCOMMANDS];

  // The config (shenma.yaml or --config, with SHENMA_DATABASE_URL overriding) supplies the URL
  // unless the flag names one; the data dir follows the same rules as `shenma start`.
  const { config } = loadCliConfig(values, io, { writeDefault: false });
  const url = values['database-url'] ?? config.database.url;
  if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) {
    throw new CliError(
      `--database-url must be a postgres:// or postgresql:// URL, got "${redactUrl(url)}"`,
      2,
    );
  }

  let target: string;
  let database: Database;
  try {
    if (url) {
      target = `PostgreSQL at ${redactUrl(url)}`;
      database = await openDatabase({ url, dataDir: '' });
    } else {
      const dataDir = resolveDataDir(values, io);
      // The running server holds the embedded database: ask it, as `shenma users` does.
      const server = await runningServer(dataDir);
      // Asked once a server has opened it: where it lives is decided (and recorded) at the first open.
      const located = async () => `embedded PostgreSQL at ${await clusterDirOf(dataDir)}`;
      if (server) {
        target = await located();
        io.err(`(via the running server, pid ${server.pid})`);
        io.out(`Database: ${target}`);
        try {
          return await action(server.migrations, io);
        } catch (err) {
          throw toCliError(toAdminCliError(err), target);
        }
      }
      database = await openDatabase({ dataDir });
      target = await located();
    }
  } catch (err) {
    throw toCliError(err, url ? `PostgreSQL at ${redactUrl(url)}` : 'the embedded database');
  }
  try {
    io.out(`Database: ${target}`);
    return await action(direct(database), io);
  } catch (err) {
    throw toCliError(err, target);
  } finally {
    await database.close();
  }
}

async function runMigrate(migrations: MigrationOps, io: CliIO): Promise<number> {
  const { applied } = await migrations.migrate();
  for (const name of applied) io.out(`Applied ${name}`);
  const total = (await migrations.status()).length;
  io.out(
    applied.length === 0
      ? `Already up to date (${total} migration${total === 1 ? '' : 's'}).`
      : `Applied ${applied.length} migration${applied.length === 1 ? '' : 's'}; ${total} in total.`,
  );
  return 0;
}

async function runStatus(migrations: MigrationOps, io: CliIO): Promise<number> {
  const states = await migrations.status();
  const width = Math.max(0, ...states.map((s) => s.name.length));
  for (const state of states) {
    const when = state.appliedAt ? `applied ${state.appliedAt.toISOString()}` : 'pending';
    io.out(`  ${state.name.padEnd(width)}  ${when}`);
  }
  const pending = states.filter((s) => !s.appliedAt).length;
  io.out(
    `${states.length - pending} applied, ${pending} pending.${pending ? ' Run "shenma db migrate".' : ''}`,
  );
  return 0;
}

function toCliError(err: unknown, target: string): unknown {
  if (err instanceof CliError) return err;
  if (
    err instanceof DataDirLockedError ||
    err instanceof MigrationError ||
    err instanceof EmbeddedPostgresError
  )
    return new CliError(err.message);
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', '28P01', '3D000'].includes(code)) {
    return new CliError(`cannot reach ${target}: ${(err as Error).message}`);
  }
  if (err instanceof Error && /timeout exceeded when trying to connect/i.test(err.message)) {
    return new CliError(`cannot reach ${target}: ${err.message}`);
  }
  return err;
}

/** The URL with any password replaced, for printing. */
export { redactUrl };
