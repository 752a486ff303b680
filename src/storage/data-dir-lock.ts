import { randomBytes } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';

/**
 * The data-directory lock: one Shenma process at a time starts, uses and stops the data
 * directory's embedded PostgreSQL server. It is Shenma's own, beside PostgreSQL's postmaster.pid:
 * a stale postmaster.pid is only recovered by the process that holds this lock.
 */

export interface DataDirLock {
  /** The lock file, `<dataDir>/pgdata.lock`. */
  readonly path: string;
  /** Removes the lock file if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

interface LockFileContent {
  pid: number;
  hostname: string;
  startedAt: string;
  token: string;
}

/** The data directory's embedded database is held by another live process (or this one). */
export class DataDirLockedError extends Error {
  constructor(
    readonly lockPath: string,
    readonly holder: { pid?: number; hostname?: string; startedAt?: string },
    detail?: string,
  ) {
    super(
      detail ??
        `the embedded database in ${lockPath.replace(/\.lock$/, '')} is in use by process ${holder.pid}` +
          `${holder.hostname ? ` on ${holder.hostname}` : ''}` +
          `${holder.startedAt ? ` (since ${holder.startedAt})` : ''}; ` +
          'stop that server (shenma start) first, give this one another --data-dir, or set database.url ' +
          'to use a PostgreSQL server',
    );
    this.name = 'DataDirLockedError';
  }
}

/** Lock files this process holds, so a file naming our own pid can be told apart from a reused pid. */
const locksHeldHere = new Set<string>();

const LOCK_ATTEMPTS = 5;

/**
 * Takes `<dataDir>/pgdata.lock` for this process. A lock whose pid is not running (or names this
 * pid but was not taken by this process, as after a container restart where the server is pid 1
 * again) is stale and is taken over. Liveness can only be checked on this host; a data dir shared
 * between hosts is not supported.
 */
export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  const lockPath = resolve(dataDir, 'pgdata.lock');
  const content: LockFileContent = {
    pid: process.pid,
    hostname: hostname(),
    startedAt: new Date().toISOString(),
    token: randomBytes(12).toString('hex'),
  };
  // Write the content first and link it into place, so the lock file is never seen half-written.
  const draftPath = `${lockPath}.${process.pid}.${content.token}`;
  await writeFile(draftPath, `${JSON.stringify(content)}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
      try {
        await link(draftPath, lockPath);
        locksHeldHere.add(lockPath);
        let released = false;
        const release = async () => {
          if (released) return;
          released = true;
          locksHeldHere.delete(lockPath);
          await releaseLock(lockPath, content.token);
        };
        return { path: lockPath, release };
      } catch (err) {
        if (errorCode(err) !== 'EEXIST') throw err;
      }
      const holder = await readLockFile(lockPath);
      if (holder === 'missing') continue;
      if (holder === 'unreadable') {
        throw new DataDirLockedError(
          lockPath,
          {},
          `the lock file ${lockPath} is not one Shenma wrote; if no server is using this data directory, remove it`,
        );
      }
      if (isLockHolderAlive(lockPath, holder)) throw new DataDirLockedError(lockPath, holder);
      await removeStaleLock(lockPath, holder.token);
    }
    throw new DataDirLockedError(
      lockPath,
      {},
      `could not take the lock ${lockPath}: another process keeps racing for it`,
    );
  } finally {
    await unlink(draftPath).catch(() => {});
  }
}

function isLockHolderAlive(lockPath: string, holder: LockFileContent): boolean {
  if (holder.pid === process.pid) return locksHeldHere.has(lockPath);
  return isProcessAlive(holder.pid);
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return errorCode(err) === 'EPERM';
  }
}

/**
 * Moves the stale lock aside rather than unlinking it: if another process took over first, what we
 * moved is its fresh lock, which we then put back.
 */
async function removeStaleLock(lockPath: string, staleToken: string): Promise<void> {
  const asidePath = `${lockPath}.stale.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    await rename(lockPath, asidePath);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return;
    throw err;
  }
  const moved = await readLockFile(asidePath);
  if (typeof moved === 'object' && moved.token !== staleToken) {
    await link(asidePath, lockPath).catch(() => {});
  }
  await unlink(asidePath).catch(() => {});
}

async function readLockFile(path: string): Promise<LockFileContent | 'missing' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return 'missing';
    throw err;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'pid' in parsed &&
      Number.isInteger(parsed.pid) &&
      'token' in parsed &&
      typeof parsed.token === 'string'
    ) {
      const record = parsed as Partial<LockFileContent>;
      return {
        pid: parsed.pid as number,
        token: parsed.token,
        hostname: typeof record.hostname === 'string' ? record.hostname : '',
        startedAt: typeof record.startedAt === 'string' ? record.startedAt : '',
      };
    }
  } catch {
    // fall through
  }
  return 'unreadable';
}

async function releaseLock(lockPath: string, token: string): Promise<void> {
  const current = await readLockFile(lockPath);
  if (typeof current === 'object' && current.token === token) {
    await unlink(lockPath).catch(() => {});
  }
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}
