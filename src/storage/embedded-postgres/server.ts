import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { acquireDataDirLock, type DataDirLock } from '../data-dir-lock.js';
import { MAX_SOCKET_PATH_BYTES } from '../unix-socket.js';
import { findPostgresBinaries, type PostgresBinaries } from './binaries.js';
import {
  cannotEnter,
  DEFAULT_CLUSTERS_DIR,
  locateCluster,
  prepareClusterHome,
  recordClusterLocation,
} from './cluster-location.js';
import { EmbeddedPostgresError, EmbeddedPostgresUnavailableError } from './errors.js';
import { blockingDirectory, chooseServerUser, type ServerUser } from './server-user.js';

/**
 * The embedded database is a real PostgreSQL server (the npm-packaged binaries), one per data
 * directory, started by the Shenma process that holds the data-dir lock:
 *
 *   <dataDir>/pgdata/             the cluster (initdb), owned by the server user, 0700
 *   <dataDir>/pgdata/.s.PGSQL.5432  its only listener: a Unix socket (no TCP port at all)
 *   <dataDir>/pg-lib/             library links, only when the npm package's own are missing
 *   <dataDir>/pg-native/<ver>/    a copy of the binaries, only when the server user cannot reach node_modules
 *
 * Run as root with a data directory the server user cannot reach, the cluster and its pg-lib and
 * pg-native are in a directory of their own instead, which the data directory records
 * (cluster-location.ts); everything else stays in the data directory.
 *
 * Connections are authenticated by `peer` on the socket: only the OS users Shenma and the server
 * run as may connect (as database user `shenma`); there is no password to generate or leak.
 *
 * The server must not outlive Shenma, even one killed with SIGKILL. It is started through a
 * small shell watchdog that holds one end of a socket pair whose other end only Shenma has:
 * when Shenma goes away for any reason the kernel closes it, the watchdog reads EOF and asks the
 * postmaster for a fast shutdown (committed transactions are already on disk: fsync is on).
 */

export const DATABASE_USER = 'shenma';
const DATABASE_NAME = 'postgres';
const SOCKET_PORT = 5432;
const READY_TIMEOUT_MS = 60_000;
const PREVIOUS_SERVER_WAIT_MS = 30_000;

// $1 is the postgres binary, the rest its arguments; fd 3 is the lifeline to Shenma.
const WATCHDOG = `
"$@" 3<&- &
pg=$!
{ read -r _ <&3; kill -INT "$pg" 2>/dev/null; } &
reader=$!
wait "$pg"
code=$?
kill "$reader" 2>/dev/null
exit "$code"
`;

export interface EmbeddedPostgres {
  /** node-postgres settings for a pool on the server's socket. */
  connection: pg.PoolConfig;
  /** The postmaster's process id (for measurements). */
  pid: number | undefined;
  /** Stops the server (fast shutdown) and waits until it has exited. */
  stop(): Promise<void>;
  /** Settles (never rejects) when the server exits, whoever stopped it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; log: string }>;
}

export interface StartOptions {
  dataDir: string;
  /**
   * Where a cluster goes when, run as root, the server's user cannot reach the data directory
   * (cluster-location.ts); default $SHENMA_CLUSTERS_DIR, else /var/lib/shenma/clusters.
   */
  clustersDir?: string;
  /** Told when the cluster does not exist yet and initdb runs (a second or more). */
  onCreate?: (pgdata: string) => void;
  /** Told at every start when the cluster lives outside the data directory: where, and why. */
  onRelocated?: (pgdata: string, reason: string) => void;
  /** Server log lines (stderr), for the caller's logger. */
  onLog?: (line: string) => void;
}

/** Starts the data directory's server (creating the cluster on first use); call with the data-dir lock held. */
export async function startEmbeddedPostgres(opts: StartOptions): Promise<EmbeddedPostgres> {
  const clustersDir = opts.clustersDir ?? (process.env.SHENMA_CLUSTERS_DIR || DEFAULT_CLUSTERS_DIR);
  // It must exist to be located: a relocated cluster is named after its real path.
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const inPlaceUser = await chooseServerUser(join(opts.dataDir, 'pgdata'));
  const { pgdata, relocated } = await locateCluster(opts.dataDir, inPlaceUser, clustersDir);
  // First: a path too long for the socket must not cost an initdb and leave a cluster behind.
  if (Buffer.byteLength(join(pgdata, `.s.PGSQL.${SOCKET_PORT}`)) > MAX_SOCKET_PATH_BYTES) {
    throw new EmbeddedPostgresError(
      `the data directory path is too long for the embedded database's socket (${pgdata}); ` +
        'choose a shorter --data-dir, or set database.url',
    );
  }
  const user = relocated ? await chooseServerUser(pgdata) : inPlaceUser;
  await prepareDataDir(opts.dataDir, user, pgdata);
  // A cluster outside the data directory gets the lock the data directory's gives one inside it:
  // one server per cluster, however many data directories name it (a copied data directory does).
  let clusterLock: DataDirLock | undefined;
  if (relocated) {
    await prepareClusterHome(pgdata, user, relocated.reason);
    clusterLock = await acquireDataDirLock(dirname(pgdata));
    opts.onRelocated?.(pgdata, relocated.reason);
  }
  try {
    const server = await startCluster(opts, pgdata, user, relocated !== undefined);
    return {
      ...server,
      stop: async () => {
        try {
          await server.stop();
        } finally {
          await clusterLock?.release();
        }
      },
    };
  } catch (err) {
    await clusterLock?.release();
    throw err;
  }
}

async function startCluster(
  opts: StartOptions,
  pgdata: string,
  user: ServerUser,
  relocated: boolean,
): Promise<EmbeddedPostgres> {
  // The library links and the binaries copy are read by the server: they live beside the cluster.
  const home = dirname(pgdata);
  const bins = await findPostgresBinaries(
    join(home, 'pg-lib'),
    user.switched ? user : undefined,
    join(home, 'pg-native'),
  );

  const version = await readFile(join(pgdata, 'PG_VERSION'), 'utf8').catch(() => undefined);
  if (version === undefined) {
    if (existsSync(pgdata) && (await readdir(pgdata)).length > 0) {
      throw new EmbeddedPostgresError(
        `${pgdata} is not empty but holds no PostgreSQL cluster (no PG_VERSION); move it away and start again`,
      );
    }
    opts.onCreate?.(pgdata);
    await initdb(bins, pgdata, user);
  } else if (version.trim() !== bins.majorVersion) {
    throw new EmbeddedPostgresError(legacyMessage(pgdata, version.trim(), bins.majorVersion));
  }
  // Recorded only once the cluster exists, so a record always names one (cluster-location.ts).
  if (relocated) await recordClusterLocation(opts.dataDir, pgdata);
  await makeOwned(pgdata, user);
  await writeAuthFiles(pgdata, user);
  await waitForPreviousServer(pgdata);

  const socketDir = pgdata;
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      WATCHDOG,
      'shenma-postgres-watchdog',
      bins.postgres,
      '-D',
      pgdata,
      '-c',
      'listen_addresses=',
      '-c',
      `port=${SOCKET_PORT}`,
      '-c',
      `unix_socket_directories=${socketDir}`,
      '-c',
      'unix_socket_permissions=0700',
      // Sized for one Shenma process, not a shared server: fewer buffers and backends keep the
      // server's memory small (the defaults reserve 128 MiB of shared buffers for 100 backends).
      '-c',
      'shared_buffers=16MB',
      '-c',
      'max_connections=24',
      '-c',
      'max_wal_size=256MB',
      '-c',
      'huge_pages=off',
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      env: serverEnv(bins),
      ...(user.switched ? { uid: user.uid, gid: user.gid } : {}),
      // Its own process group: a Ctrl-C in the terminal reaches Shenma, which then stops the
      // server in order, rather than killing both at once.
      detached: true,
    },
  );
  // The lifeline must not keep Shenma's event loop alive, nor the watchdog hold Shenma's exit.
  child.unref();
  const lifeline = child.stdio[3] as unknown as NodeJS.ReadWriteStream & { unref?(): void; destroy(): void };
  lifeline.unref?.();
  lifeline.on('error', () => {});
  let log = '';
  child.stderr!.setEncoding('utf8');
  (child.stderr as NodeJS.ReadableStream & { unref?(): void }).unref?.();
  // A line can span two reads: only whole lines are passed on.
  let partial = '';
  child.stderr!.on('data', (chunk: string) => {
    log = (log + chunk).slice(-8000);
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line.trim()) opts.onLog?.(line);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; log: string }>(
    (resolve) => {
      child.once('error', () => resolve({ code: null, signal: null, log }));
      child.once('exit', (code, signal) => resolve({ code, signal, log }));
    },
  );

  const connection: pg.PoolConfig = {
    host: socketDir,
    port: SOCKET_PORT,
    user: DATABASE_USER,
    database: DATABASE_NAME,
  };
  const stop = async () => {
    // Held again so that a process with nothing else left to do still waits for the server.
    child.ref();
    lifeline.destroy();
    await exited;
  };
  try {
    await waitUntilReady(connection, exited);
  } catch (err) {
    await stop();
    throw err;
  }
  return { connection, pid: child.pid, stop, exited };
}

function serverEnv(bins: PostgresBinaries): NodeJS.ProcessEnv {
  // Only what the server needs: Shenma's environment holds secrets (API keys, tokens).
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LC_ALL: 'C',
    TZ: 'UTC',
    ...bins.env,
  };
}

/**
 * The data directory: Shenma's, private. When the server runs as another user and its cluster is
 * inside, that user's group may enter, and it must be able to pass through every directory above
 * (only a cluster that was already there is left behind such a directory: it is never moved).
 */
async function prepareDataDir(dataDir: string, user: ServerUser, pgdata: string): Promise<void> {
  if (!user.switched || dirname(pgdata) !== dataDir) return;
  const blocked = await blockingDirectory(dataDir, user);
  if (blocked) {
    throw new EmbeddedPostgresUnavailableError(
      `the embedded PostgreSQL server runs as user ${user.name} (PostgreSQL refuses to run as root) and ` +
        `${cannotEnter(blocked)}, above the existing database ${pgdata}, which Shenma does not move; ` +
        `let it in (chmod o+x ${blocked.path}), move the data directory where it can reach, ` +
        'run shenma as a non-root user, or set database.url',
    );
  }
  const s = await stat(dataDir);
  if (s.gid !== user.gid) await chown(dataDir, s.uid, user.gid);
  await chmod(dataDir, 0o710);
}

async function initdb(bins: PostgresBinaries, pgdata: string, user: ServerUser): Promise<void> {
  // It may exist, empty: a failed initdb removes what it made inside, not the directory.
  await mkdir(pgdata, { recursive: true, mode: 0o700 });
  if (user.switched) await chown(pgdata, user.uid, user.gid);
  await runToEnd(
    bins.initdb,
    [
      '-D',
      pgdata,
      `--username=${DATABASE_USER}`,
      '--encoding=UTF8',
      '--locale=C',
      '--auth-local=peer',
      '--auth-host=reject',
      '--no-instructions',
    ],
    bins,
    user,
    `creating the embedded database in ${pgdata}`,
  );
}

function runToEnd(cmd: string, args: string[], bins: PostgresBinaries, user: ServerUser, what: string) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: serverEnv(bins),
      ...(user.switched ? { uid: user.uid, gid: user.gid } : {}),
    });
    let out = '';
    const keep = (d: Buffer) => {
      out = (out + d.toString('utf8')).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err) => reject(new EmbeddedPostgresError(`${what} failed: ${err.message}`)));
    child.once('exit', (code, signal) =>
      code === 0
        ? resolve()
        : reject(new EmbeddedPostgresError(`${what} failed (${signal ?? `exit ${code}`}): ${out.trim()}`)),
    );
  });
}

/**
 * The cluster holds password hashes, tokens and prompts: directories 0700 and files 0600, owned by
 * the server user (PostgreSQL checks the top directory; a copy or restore made by root, or an
 * older Shenma's looser modes, are put right here). A fresh cluster has about a thousand entries.
 */
async function makeOwned(pgdata: string, user: ServerUser): Promise<void> {
  const walk = async (path: string) => {
    const entry = await lstat(path);
    if (entry.isSymbolicLink()) return;
    if (user.switched && (entry.uid !== user.uid || entry.gid !== user.gid)) {
      await chown(path, user.uid, user.gid);
    }
    const wanted = entry.isDirectory() ? 0o700 : 0o600;
    if ((entry.mode & 0o777) !== wanted && (entry.isDirectory() || entry.isFile())) await chmod(path, wanted);
    if (entry.isDirectory()) for (const name of await readdir(path)) await walk(join(path, name));
  };
  await walk(pgdata);
}

/** Peer authentication on the socket only: Shenma's OS user and the server's may connect as `shenma`. */
async function writeAuthFiles(pgdata: string, user: ServerUser): Promise<void> {
  const users = [...new Set([userInfo().username, user.name])];
  const own = async (path: string, text: string) => {
    await writeFile(path, text, { mode: 0o600 });
    if (user.switched) await chown(path, user.uid, user.gid);
  };
  await own(
    join(pgdata, 'pg_hba.conf'),
    '# Written by Shenma at every start: the Unix socket only, peer-authenticated (see pg_ident.conf).\n' +
      `local all ${DATABASE_USER} peer map=shenma\n`,
  );
  await own(
    join(pgdata, 'pg_ident.conf'),
    `# Written by Shenma at every start: the OS users that may connect as ${DATABASE_USER}.\n` +
      users.map((u) => `shenma ${u} ${DATABASE_USER}\n`).join(''),
  );
}

/**
 * A postmaster.pid left behind: either a server still shutting down because its Shenma just died
 * (we hold the data-dir lock, so no live Shenma owns it) — wait for it, then make it stop — or a
 * stale file whose pid now names an unrelated process (a container restart), which PostgreSQL
 * would take for a running server; that file is removed.
 */
async function waitForPreviousServer(pgdata: string): Promise<void> {
  const pidFile = join(pgdata, 'postmaster.pid');
  const text = await readFile(pidFile, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const pid = Number(text.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !(await isPostmasterOf(pid, pgdata))) {
    await rm(pidFile, { force: true });
    return;
  }
  const deadline = Date.now() + PREVIOUS_SERVER_WAIT_MS;
  let signalled = false;
  while (await isPostmasterOf(pid, pgdata)) {
    if (Date.now() > deadline) {
      throw new EmbeddedPostgresError(
        `an earlier embedded PostgreSQL server (pid ${pid}) for ${pgdata} does not stop; stop it and start again`,
      );
    }
    if (!signalled && Date.now() > deadline - PREVIOUS_SERVER_WAIT_MS / 2) {
      try {
        process.kill(pid, 'SIGINT');
      } catch {}
      signalled = true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function isPostmasterOf(pid: number, pgdata: string): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EPERM') return false;
  }
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return cmdline.some((a) => a.endsWith('postgres')) && cmdline.includes(pgdata);
  } catch {
    // No /proc (macOS): trust the live pid, as PostgreSQL itself does.
    return process.platform !== 'linux';
  }
}

async function waitUntilReady(
  connection: pg.PoolConfig,
  exited: Promise<{ code: number | null; log: string }>,
) {
  let dead: { code: number | null; log: string } | undefined;
  void exited.then((e) => {
    dead = e;
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = '';
  while (Date.now() < deadline) {
    if (dead) {
      throw new EmbeddedPostgresError(
        `the embedded PostgreSQL server exited (${dead.code ?? 'signal'}) while starting: ${lastLines(dead.log)}`,
      );
    }
    const client = new pg.Client({ ...connection, connectionTimeoutMillis: 2000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
      return;
    } catch (err) {
      lastError = (err as Error).message;
      await client.end().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new EmbeddedPostgresError(`the embedded PostgreSQL server did not accept connections: ${lastError}`);
}

function lastLines(log: string): string {
  return log.trim().split('\n').slice(-5).join(' | ') || '(no output)';
}

function legacyMessage(pgdata: string, found: string, expected: string): string {
  if (found === '17') {
    // PGlite 0.3+ is PostgreSQL 17 compiled to WebAssembly; its files are not a native cluster.
    return (
      `${pgdata} holds a PostgreSQL 17 database, most likely made by PGlite (PostgreSQL compiled to WebAssembly), ` +
      `which Shenma embedded before; Shenma now embeds a PostgreSQL ${expected} server, which cannot open it. ` +
      'See "Moving from the PGlite data directory" in docs/embedded-database.md'
    );
  }
  return `${pgdata} holds a PostgreSQL ${found} cluster; the embedded server is PostgreSQL ${expected} and cannot open it`;
}
