import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedEmbeddedDatabase } from '../../test/support/embedded-template.js';
import { dataDirExposure, reachableTempDir } from '../../test/support/temp-dir.js';
import { acquireDataDirLock, DataDirLockedError } from './data-dir-lock.js';
import { openDatabase } from './database.js';

let dataDir: string;
beforeEach(async () => {
  dataDir = reachableTempDir('shenma-lock-');
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill();
});

async function writeLockFile(pid: number): Promise<void> {
  const content = { pid, hostname: hostname(), startedAt: '2025-01-01T00:00:00.000Z', token: 'abc123' };
  await writeFile(join(dataDir, 'pgdata.lock'), JSON.stringify(content));
}

async function readLockPid(): Promise<number> {
  return JSON.parse(await readFile(join(dataDir, 'pgdata.lock'), 'utf8')).pid;
}

/** The pid of a process that has already exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid!;
}

describe('acquireDataDirLock', () => {
  it('writes our pid, refuses a second holder, and lets go on release', async () => {
    const lock = await acquireDataDirLock(dataDir);
    expect(lock.path).toBe(join(dataDir, 'pgdata.lock'));
    expect(await readLockPid()).toBe(process.pid);
    expect((await stat(lock.path)).mode & 0o777).toBe(0o600);

    const second = acquireDataDirLock(dataDir);
    await expect(second).rejects.toBeInstanceOf(DataDirLockedError);
    await expect(second).rejects.toThrow(
      new RegExp(
        `in use by process ${process.pid} on .* stop that server \\(shenma start\\) first, give this one another --data-dir, or set database\\.url`,
      ),
    );

    await lock.release();
    await lock.release();
    expect(await readdir(dataDir)).toEqual([]);
    const again = await acquireDataDirLock(dataDir);
    await again.release();
  });

  it('takes over a lock left by a process that has exited', async () => {
    await writeLockFile(await deadPid());
    const lock = await acquireDataDirLock(dataDir);
    expect(await readLockPid()).toBe(process.pid);
    await lock.release();
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('takes over a lock naming our pid that this process never took (a restarted container reuses pids)', async () => {
    await writeLockFile(process.pid);
    const lock = await acquireDataDirLock(dataDir);
    await lock.release();
  });

  it('refuses a lock held by another live process', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    children.push(child);
    await writeLockFile(child.pid!);
    await expect(acquireDataDirLock(dataDir)).rejects.toThrow(`in use by process ${child.pid}`);
    child.kill();
    await once(child, 'exit');
    const lock = await acquireDataDirLock(dataDir);
    await lock.release();
  });

  it('refuses a lock file it cannot read, and says how to clear it', async () => {
    await writeFile(join(dataDir, 'pgdata.lock'), 'not json');
    await expect(acquireDataDirLock(dataDir)).rejects.toThrow(
      /not one Shenma wrote; if no server .* remove it/,
    );
  });

  it('does not remove a lock it no longer owns', async () => {
    const lock = await acquireDataDirLock(dataDir);
    await writeLockFile(process.pid);
    await lock.release();
    expect(await readLockPid()).toBe(process.pid);
  });
});

describe('openDatabase with the embedded server', () => {
  it('creates a private data dir, holds the lock while open, and reopens after close', async () => {
    const nested = join(dataDir, 'nested', 'data');
    let started = performance.now();
    const first = await openDatabase({ dataDir: nested });
    const initMs = performance.now() - started;
    try {
      expect(first.kind).toBe('embedded');
      expect(dataDirExposure(nested)).toEqual([]);
      expect((await stat(join(nested, 'pgdata'))).mode & 0o777).toBe(0o700);
      await sql`create table kept (v text)`.execute(first.db);
      await sql`insert into kept values ('still here')`.execute(first.db);

      const second = openDatabase({ dataDir: nested });
      await expect(second).rejects.toBeInstanceOf(DataDirLockedError);
      await expect(second).rejects.toThrow(`is in use by process ${process.pid}`);
    } finally {
      await first.close();
    }
    expect(await readdir(nested)).not.toContain('pgdata.lock');

    started = performance.now();
    const reopened = await openDatabase({ dataDir: nested });
    const reopenMs = performance.now() - started;
    try {
      const { rows } = await sql<{ v: string }>`select v from kept`.execute(reopened.db);
      expect(rows).toEqual([{ v: 'still here' }]);
      // int8 reads as a string, as node-postgres returns it.
      const counted = await sql<{ n: unknown }>`select count(*) as n from kept`.execute(reopened.db);
      expect(counted.rows[0]!.n).toBe('1');
    } finally {
      await reopened.close();
    }
    // Closing a handle that never ran a query still lets go of the data dir.
    const unused = await openDatabase({ dataDir: nested });
    await unused.close();
    expect(await readdir(nested)).not.toContain('pgdata.lock');

    console.info(
      `[storage] embedded PostgreSQL first open (initdb) ${Math.round(initMs)} ms, reopen ${Math.round(reopenMs)} ms`,
    );
  }, 60_000);
});

describe('a postmaster.pid left behind', () => {
  it('is recovered when its pid now names a process that is not this cluster’s server', async () => {
    const dir = reachableTempDir('shenma-stale-pid-');
    try {
      await seedEmbeddedDatabase(dir);
      const pgdata = join(dir, 'pgdata');
      // As after a container restart: the old server's pid now belongs to someone else (us).
      await writeFile(join(pgdata, 'postmaster.pid'), `${process.pid}\n${pgdata}\n0\n5432\n`);
      const database = await openDatabase({ dataDir: dir });
      try {
        await database.ping();
        const pid = Number((await readFile(join(pgdata, 'postmaster.pid'), 'utf8')).split('\n')[0]);
        expect(pid).not.toBe(process.pid);
      } finally {
        await database.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses a data directory too long for the socket before creating anything in it', async () => {
    const root = reachableTempDir('shenma-long-dir-');
    const dir = join(root, 'd'.repeat(110));
    try {
      await expect(openDatabase({ dataDir: dir })).rejects.toThrow(
        /too long for the embedded database's socket/,
      );
      expect(existsSync(join(dir, 'pgdata'))).toBe(false);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('refuses a PostgreSQL 17 (PGlite) data directory with a message, and leaves it alone', async () => {
    const dir = reachableTempDir('shenma-pglite-dir-');
    try {
      await mkdir(join(dir, 'pgdata'), { mode: 0o700 });
      await writeFile(join(dir, 'pgdata', 'PG_VERSION'), '17\n');
      await expect(openDatabase({ dataDir: dir })).rejects.toThrow(/PGlite.*docs\/embedded-database\.md/s);
      expect(await readdir(join(dir, 'pgdata'))).toEqual(['PG_VERSION']);
      expect(await readdir(dir)).not.toContain('pgdata.lock');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
