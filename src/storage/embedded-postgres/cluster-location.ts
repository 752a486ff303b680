import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { EmbeddedPostgresError, EmbeddedPostgresUnavailableError } from './errors.js';
import { blockingDirectory, makePassThroughDirs, type ServerUser } from './server-user.js';

/**
 * Where a data directory's cluster lives. Normally `<dataDir>/pgdata`. Run as root, the server runs
 * as another user (server-user.ts) that must pass through every directory above the cluster, and a
 * checkout cloned into a 0700 directory (`mktemp -d`) shuts it out. Then a new cluster goes to
 *
 *   <clustersDir>/<hash of the data dir's real path>/pgdata   (clustersDir: /var/lib/shenma/clusters)
 *
 * with the server's library links and binaries copy beside it (they must be reachable too), and the
 * data directory records the choice in `pgdata.location`. Both a record and a fixed rule, because
 * each covers the other's gap:
 * - the record is written once the cluster exists and is followed first: it keeps finding the
 *   cluster when the rule's inputs change (a moved data directory, another SHENMA_CLUSTERS_DIR),
 *   and it tells a person looking at the data directory where the database went;
 * - the rule finds a cluster whose record was never written (a crash between initdb and the
 *   write) or was lost, so a second, empty cluster is never made beside one that holds data.
 * An existing `<dataDir>/pgdata` is used where it is, whoever runs Shenma: data is never moved.
 */

export const DEFAULT_CLUSTERS_DIR = '/var/lib/shenma/clusters';
/** In the data directory: the absolute path of the cluster, when it lives elsewhere. */
export const CLUSTER_RECORD = 'pgdata.location';
/** Beside a cluster that lives elsewhere: the data directory it belongs to, for whoever finds it. */
const DATA_DIR_RECORD = 'data-dir.location';

export interface ClusterLocation {
  /** The cluster directory (`PG_VERSION`, the socket). Its parent also holds `pg-lib`, `pg-native`. */
  pgdata: string;
  /** Set when the cluster lives outside the data directory: why, for the operator's log. */
  relocated?: { reason: string };
}

/** Decides where the cluster is (or will be made); reads only, creates nothing. */
export async function locateCluster(
  dataDir: string,
  user: ServerUser,
  clustersDir: string,
): Promise<ClusterLocation> {
  const inPlace = join(dataDir, 'pgdata');
  const recordPath = join(dataDir, CLUSTER_RECORD);
  const recorded = await readClusterRecord(dataDir);
  if (await holdsFiles(inPlace)) {
    if (recorded !== undefined && recorded !== inPlace && holdsCluster(recorded)) {
      throw new EmbeddedPostgresError(
        `${inPlace} and ${recorded} (named in ${recordPath}) both hold a database for this data directory; ` +
          `Shenma will not choose: move one of them away (or remove ${recordPath} to use ${inPlace})`,
      );
    }
    return { pgdata: inPlace };
  }
  const blocked = await blockingDirectory(dataDir, user);
  const shutOut = blocked && `${user.name}, the user the server runs as, ${cannotEnter(blocked)}`;
  if (recorded !== undefined) {
    if (!holdsCluster(recorded)) {
      throw new EmbeddedPostgresError(
        `${recordPath} says the embedded database is in ${recorded}, which holds none; ` +
          `put it back there, or remove ${recordPath} to start with a new, empty database`,
      );
    }
    return { pgdata: recorded, relocated: { reason: shutOut || `${recordPath} says so` } };
  }
  const derived = join(clustersDir, await clusterKey(dataDir), 'pgdata');
  if (await holdsFiles(derived)) {
    return {
      pgdata: derived,
      relocated: { reason: shutOut || 'it was made there for this data directory before' },
    };
  }
  if (!shutOut) return { pgdata: inPlace };
  return { pgdata: derived, relocated: { reason: shutOut } };
}

/** "cannot enter /tmp/tmp.x (mode 700)" */
export function cannotEnter(blocked: { path: string; mode: number }): string {
  return `cannot enter ${blocked.path} (mode ${blocked.mode.toString(8)})`;
}

/** The cluster directory of `dataDir` as its record says, else where it is by default. */
export async function clusterDirOf(dataDir: string): Promise<string> {
  return (await readClusterRecord(dataDir).catch(() => undefined)) ?? join(dataDir, 'pgdata');
}

/**
 * Makes the directory a relocated cluster lives in, when it does not exist yet: the directories
 * made above it only let others pass through (0711); its own is Shenma's, 0710 to the server's
 * group, as the data directory is when the cluster lives there. Existing directories keep their
 * modes. Then the server must be able to reach the cluster there; when it cannot either, the one
 * line says why the cluster goes there (`reason`) and what shuts the server out of it.
 */
export async function prepareClusterHome(pgdata: string, user: ServerUser, reason: string): Promise<void> {
  const home = dirname(pgdata);
  const cannot = (why: string) =>
    new EmbeddedPostgresUnavailableError(
      `the embedded PostgreSQL server runs as user ${user.name} (PostgreSQL refuses to run as root) and its ` +
        `database cannot be in ${home} (${why}), where it goes because ${reason}; let it in (chmod o+x on the ` +
        'directory named), choose a data directory it can reach (--data-dir), set SHENMA_CLUSTERS_DIR to one ' +
        'it can reach, run shenma as a non-root user, or set database.url',
    );
  try {
    if (!existsSync(home)) {
      await makePassThroughDirs(dirname(home));
      await mkdir(home, { mode: 0o700 });
      const s = await stat(home);
      if (s.gid !== user.gid) await chown(home, s.uid, user.gid);
      await chmod(home, 0o710);
    }
  } catch (err) {
    throw cannot((err as Error).message);
  }
  const blocked = await blockingDirectory(pgdata, user);
  if (blocked) throw cannot(`it ${cannotEnter(blocked)}`);
}

/**
 * Records where the cluster of `dataDir` lives, once it exists there: `pgdata.location` in the data
 * directory, and beside the cluster the data directory it serves. Each written whole (a temporary
 * file renamed into place), so a crash leaves the old record or the new, never half of one.
 */
export async function recordClusterLocation(dataDir: string, pgdata: string): Promise<void> {
  const write = async (path: string, text: string) => {
    if ((await readFile(path, 'utf8').catch(() => undefined)) === text) return;
    const draft = `${path}.${process.pid}.tmp`;
    await writeFile(draft, text, { mode: 0o600 });
    await rename(draft, path);
  };
  await write(join(dirname(pgdata), DATA_DIR_RECORD), `${await realpath(dataDir)}\n`);
  await write(join(dataDir, CLUSTER_RECORD), `${pgdata}\n`);
}

async function readClusterRecord(dataDir: string): Promise<string | undefined> {
  const path = join(dataDir, CLUSTER_RECORD);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
  const recorded = text.trim();
  if (!isAbsolute(recorded) || recorded.includes('\n')) {
    throw new EmbeddedPostgresError(
      `${path} should hold the absolute path of the embedded database's directory and does not; fix or remove it`,
    );
  }
  return recorded;
}

/**
 * The data directory's name under the clusters directory: a hash of its real path (symbolic links
 * resolved, so two spellings of one directory agree), short enough to keep the socket path short.
 */
async function clusterKey(dataDir: string): Promise<string> {
  return createHash('sha256')
    .update(await realpath(dataDir))
    .digest('hex')
    .slice(0, 16);
}

function holdsCluster(pgdata: string): boolean {
  return existsSync(join(pgdata, 'PG_VERSION'));
}

async function holdsFiles(dir: string): Promise<boolean> {
  return readdir(dir).then(
    (names) => names.length > 0,
    () => false,
  );
}
