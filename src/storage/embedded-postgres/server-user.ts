import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { EmbeddedPostgresUnavailableError } from './errors.js';

const run = promisify(execFile);

/**
 * PostgreSQL refuses to run as root. A Shenma started as root (CI, containers) runs the server
 * as an unprivileged system user instead: the owner of an existing cluster, else `shenma-db`,
 * created on first use. A Shenma started as anyone else runs it as itself.
 */

export const SERVER_USER_NAME = 'shenma-db';

export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
  /** True when the server runs as another user than Shenma (Shenma is root). */
  switched: boolean;
}

/** The user the server runs as, for a cluster at `pgdata` (which may not exist yet). */
export async function chooseServerUser(pgdata: string): Promise<ServerUser> {
  const me = userInfo();
  if (me.uid !== 0) return { name: me.username, uid: me.uid, gid: me.gid, switched: false };
  const owner = await stat(pgdata).catch(() => undefined);
  if (owner && owner.uid !== 0) {
    const name = await nameOf(owner.uid);
    if (name) return { name, uid: owner.uid, gid: owner.gid, switched: true };
  }
  return { ...(await systemUser(SERVER_USER_NAME)), switched: true };
}

async function nameOf(uid: number): Promise<string | undefined> {
  try {
    return (await run('id', ['-nu', String(uid)])).stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

async function lookUp(name: string): Promise<{ name: string; uid: number; gid: number } | undefined> {
  try {
    const uid = Number((await run('id', ['-u', name])).stdout.trim());
    const gid = Number((await run('id', ['-g', name])).stdout.trim());
    if (Number.isInteger(uid) && Number.isInteger(gid)) return { name, uid, gid };
  } catch {
    // no such user
  }
  return undefined;
}

/** Looks the user up, creating it (no home, no login shell) when it does not exist. */
async function systemUser(name: string): Promise<{ name: string; uid: number; gid: number }> {
  const existing = await lookUp(name);
  if (existing) return existing;
  const attempts: [string, string[]][][] = [
    // Debian, Ubuntu, RHEL (shadow-utils)
    [
      [
        'useradd',
        [
          '--system',
          '--user-group',
          '--no-create-home',
          '--home-dir',
          '/nonexistent',
          '--shell',
          '/usr/sbin/nologin',
          name,
        ],
      ],
    ],
    // Alpine, BusyBox
    [
      ['addgroup', ['-S', name]],
      ['adduser', ['-S', '-D', '-H', '-G', name, '-s', '/sbin/nologin', name]],
    ],
  ];
  const errors: string[] = [];
  // Two Shenma processes starting at once may race to create it: look again after a failure.
  for (let round = 0; round < 3; round++) {
    for (const steps of attempts) {
      try {
        for (const [cmd, args] of steps) await run(cmd, args);
      } catch (err) {
        errors.push((err as Error).message.split('\n')[0] ?? String(err));
      }
      const made = await lookUp(name);
      if (made) return made;
    }
    await new Promise((r) => setTimeout(r, 200 + Math.random() * 300));
  }
  throw new EmbeddedPostgresUnavailableError(
    `PostgreSQL does not run as root, and the user ${name} to run the embedded database as could not be created ` +
      `(${errors.slice(0, 2).join('; ')}); create it (useradd --system ${name}), run shenma as another user, ` +
      'or set database.url to a PostgreSQL server',
  );
}

/**
 * The server user must pass through every directory above `dir`. Root passes anything, so a tree
 * root made (a 0700 temp directory, /root) can shut the server out; this names the first directory
 * that does, so the caller can go elsewhere or say so, instead of letting initdb fail with
 * "permission denied". Undefined when nothing blocks it (always, when Shenma is not root).
 */
export async function blockingDirectory(
  dir: string,
  user: ServerUser,
): Promise<{ path: string; mode: number } | undefined> {
  if (!user.switched) return undefined;
  for (let d = dirname(dir); ; d = dirname(d)) {
    const s = await stat(d);
    const bits = s.uid === user.uid ? 0o100 : s.gid === user.gid ? 0o010 : 0o001;
    if ((s.mode & bits) === 0) return { path: d, mode: s.mode & 0o777 };
    if (dirname(d) === d) return undefined;
  }
}

/**
 * Makes `dir` and its missing parents with mode 0711, so that the server's user can pass through
 * them. mkdir's mode passes through the umask (`shenma start` sets 077), so each directory made is
 * chmod-ed to what is meant; directories that already exist are left as they are.
 */
export async function makePassThroughDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) {
    if (await mkdir(d, { mode: 0o711 }).then(() => true, ignoreExisting)) await chmod(d, 0o711);
  }
}

function ignoreExisting(err: unknown): false {
  if ((err as { code?: string }).code === 'EEXIST') return false;
  throw err;
}
