import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { seedEmbeddedDatabase } from '../../../test/support/embedded-template.js';
import { reachableTempDir } from '../../../test/support/temp-dir.js';
import { type Database, DataDirLockedError, openDatabase } from '../database.js';

/**
 * Where the cluster lives (cluster-location.ts), with the real server: run as root, a data
 * directory the server's user cannot reach (a checkout cloned into `mktemp -d`) gets its cluster
 * under the clusters directory, recorded; an existing `<dataDir>/pgdata` is never moved. Every
 * test names its own clusters directory, so nothing lands in /var/lib/shenma.
 */

const runningAsRoot = process.getuid?.() === 0;
const ROOT_ONLY =
  'needs root: only a root Shenma runs the server as another user (shenma-db), which a 0700 directory can shut out';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
/** A directory the server's user cannot enter (what `mktemp -d` makes: 0700, owned by root). */
const closedTempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'shenma-closed-'));
  dirs.push(d);
  return d;
};
const openTempDir = (prefix: string) => {
  const d = reachableTempDir(prefix);
  dirs.push(d);
  return d;
};

async function keptRows(database: Database): Promise<string[]> {
  const { rows } = await sql<{ v: string }>`select v from kept order by v`.execute(database.db);
  return rows.map((r) => r.v);
}

describe('a cluster the server user cannot reach in the data directory', () => {
  it('goes under the clusters directory, is recorded, and is found again on every start', async (ctx) => {
    ctx.skip(!runningAsRoot, ROOT_ONLY);
    const closed = closedTempDir();
    const dataDir = join(closed, 'checkout', '.shenma');
    const clustersDir = join(openTempDir('shenma-clusters-'), 'clusters');
    const told: { pgdata: string; reason: string }[] = [];

    const first = await openDatabase({
      dataDir,
      clustersDir,
      onRelocated: (pgdata, reason) => told.push({ pgdata, reason }),
    });
    let pgdata: string;
    try {
      await sql`create table kept (v text)`.execute(first.db);
      await sql`insert into kept values ('written before the restart')`.execute(first.db);

      pgdata = (await readFile(join(dataDir, 'pgdata.location'), 'utf8')).trim();
      const home = dirname(pgdata);
      expect(pgdata).toMatch(new RegExp(`^${clustersDir}/[0-9a-f]{16}/pgdata$`));
      expect(existsSync(join(pgdata, 'PG_VERSION'))).toBe(true);
      expect(existsSync(join(dataDir, 'pgdata'))).toBe(false);
      expect(told).toEqual([
        { pgdata, reason: expect.stringContaining(`cannot enter ${closed} (mode 700)`) },
      ]);
      // Pass-through only above, Shenma's own (0710 to the server's group) for the cluster's home.
      expect((await stat(clustersDir)).mode & 0o777).toBe(0o711);
      expect((await stat(home)).mode & 0o777).toBe(0o710);
      expect((await stat(pgdata)).uid).toBe(
        Number(execFileSync('id', ['-u', 'shenma-db'], { encoding: 'utf8' })),
      );
      expect((await readFile(join(home, 'data-dir.location'), 'utf8')).trim()).toBe(realpathSync(dataDir));
      // The data directory stays 0700: the server never enters it now.
      expect((await stat(dataDir)).mode & 0o777).toBe(0o700);

      // One server per cluster: a copy of the data directory names the same cluster, whose own
      // lock refuses a second server while this one runs.
      const copy = join(openTempDir('shenma-copy-'), 'data');
      await mkdir(copy, { mode: 0o700 });
      await copyFile(join(dataDir, 'pgdata.location'), join(copy, 'pgdata.location'));
      const second = openDatabase({ dataDir: copy, clustersDir });
      await expect(second).rejects.toBeInstanceOf(DataDirLockedError);
      await expect(second).rejects.toThrow(
        `the embedded database in ${pgdata} is in use by process ${process.pid}`,
      );
    } finally {
      await first.close();
    }
    expect(existsSync(join(dirname(pgdata), 'pgdata.lock'))).toBe(false);

    const reopened = await openDatabase({ dataDir, clustersDir });
    try {
      expect(await keptRows(reopened)).toEqual(['written before the restart']);
    } finally {
      await reopened.close();
    }

    // The record lost (or never written: a crash right after initdb) and the data directory now
    // reachable: the cluster made for it is still found, not replaced by an empty one in place.
    await rm(join(dataDir, 'pgdata.location'));
    await chmod(closed, 0o711);
    const found = await openDatabase({ dataDir, clustersDir });
    try {
      expect(await keptRows(found)).toEqual(['written before the restart']);
    } finally {
      await found.close();
    }
    expect((await readFile(join(dataDir, 'pgdata.location'), 'utf8')).trim()).toBe(pgdata);
    expect(existsSync(join(dataDir, 'pgdata'))).toBe(false);
  }, 120_000);

  it('stops with one line naming both places when the clusters directory is out of its reach too', async (ctx) => {
    ctx.skip(!runningAsRoot, ROOT_ONLY);
    const closed = closedTempDir();
    const dataDir = join(closed, '.shenma');
    const closedToo = closedTempDir();
    const clustersDir = join(closedToo, 'clusters');
    const refused: Error = await openDatabase({ dataDir, clustersDir }).then(
      () => expect.fail('opened'),
      (err) => err,
    );
    expect(refused.message).toMatch(
      new RegExp(
        `cannot be in ${clustersDir}/[0-9a-f]{16} \\(it cannot enter ${closedToo} \\(mode 700\\)\\), ` +
          `where it goes because .* cannot enter ${closed} \\(mode 700\\); .*SHENMA_CLUSTERS_DIR`,
      ),
    );
    expect(refused.message).not.toContain('\n');
    expect(existsSync(join(dataDir, 'pgdata'))).toBe(false);
    expect(existsSync(join(dataDir, 'pgdata.location'))).toBe(false);
    expect(execFileSync('find', [closedToo, '-name', 'PG_VERSION'], { encoding: 'utf8' })).toBe('');
  });
});

describe('an existing <dataDir>/pgdata', () => {
  it('is used where it is, with nothing made in the clusters directory', async () => {
    const parent = openTempDir('shenma-in-place-');
    const dataDir = join(parent, 'data');
    const clustersDir = join(parent, 'clusters');
    await seedEmbeddedDatabase(dataDir);
    let relocated = 0;
    const database = await openDatabase({ dataDir, clustersDir, onRelocated: () => relocated++ });
    try {
      await sql`create table kept (v text)`.execute(database.db);
      await sql`insert into kept values ('in place')`.execute(database.db);
      const { rows } = await sql<{ data_directory: string }>`show data_directory`.execute(database.db);
      expect(rows[0]!.data_directory).toBe(join(dataDir, 'pgdata'));
    } finally {
      await database.close();
    }
    expect(relocated).toBe(0);
    expect(existsSync(clustersDir)).toBe(false);
    expect(existsSync(join(dataDir, 'pgdata.location'))).toBe(false);
  }, 60_000);

  it('is not moved when a directory above shuts the server user out: one line says what to do', async (ctx) => {
    ctx.skip(!runningAsRoot, ROOT_ONLY);
    const closed = closedTempDir();
    const dataDir = join(closed, 'data');
    const clustersDir = join(openTempDir('shenma-clusters-'), 'clusters');
    await seedEmbeddedDatabase(dataDir);
    await expect(openDatabase({ dataDir, clustersDir })).rejects.toThrow(
      new RegExp(
        `cannot enter ${closed} \\(mode 700\\), above the existing database ${dataDir}/pgdata, which Shenma ` +
          `does not move; let it in \\(chmod o\\+x ${closed}\\)`,
      ),
    );
    expect(existsSync(join(dataDir, 'pgdata', 'PG_VERSION'))).toBe(true);
    expect(existsSync(clustersDir)).toBe(false);
    expect(existsSync(join(dataDir, 'pgdata.location'))).toBe(false);
  });
});

describe('a record that does not add up', () => {
  it('is refused, with nothing created: a recorded cluster that is gone, or a database in both places', async () => {
    const parent = openTempDir('shenma-record-');
    const dataDir = join(parent, 'data');
    const clustersDir = join(parent, 'clusters');
    const elsewhere = join(parent, 'elsewhere', 'pgdata');
    await mkdir(dataDir, { mode: 0o700 });
    await writeFile(join(dataDir, 'pgdata.location'), `${elsewhere}\n`);
    await expect(openDatabase({ dataDir, clustersDir })).rejects.toThrow(
      `${dataDir}/pgdata.location says the embedded database is in ${elsewhere}, which holds none; put it back ` +
        `there, or remove ${dataDir}/pgdata.location to start with a new, empty database`,
    );
    expect(existsSync(join(dataDir, 'pgdata'))).toBe(false);
    expect(existsSync(elsewhere)).toBe(false);
    expect(existsSync(clustersDir)).toBe(false);

    // Both places hold files named like a cluster: the check comes before any server is started.
    await mkdir(elsewhere, { recursive: true, mode: 0o700 });
    await writeFile(join(elsewhere, 'PG_VERSION'), '18\n');
    await mkdir(join(dataDir, 'pgdata'), { mode: 0o700 });
    await writeFile(join(dataDir, 'pgdata', 'PG_VERSION'), '18\n');
    await expect(openDatabase({ dataDir, clustersDir })).rejects.toThrow(
      /both hold a database for this data directory; Shenma will not choose/,
    );
    await writeFile(join(dataDir, 'pgdata.location'), 'relative/pgdata\n');
    await expect(openDatabase({ dataDir, clustersDir })).rejects.toThrow(
      /should hold the absolute path .* fix or remove it/,
    );
  });
});

describe('directories Shenma makes above a new data directory', () => {
  it('let the server user through even under shenma start’s umask, so the cluster stays in place', async (ctx) => {
    ctx.skip(!runningAsRoot, ROOT_ONLY);
    const dataDir = join(openTempDir('shenma-parents-'), 'new', 'a', 'state');
    const clustersDir = join(openTempDir('shenma-clusters-'), 'clusters');
    const relocated: string[] = [];
    // `shenma start` runs with umask 077; mkdir alone would make the parents 0700.
    const umask = process.umask(0o077);
    let database: Database;
    try {
      database = await openDatabase({
        dataDir,
        clustersDir,
        onRelocated: (pgdata) => relocated.push(pgdata),
      });
    } finally {
      process.umask(umask);
    }
    try {
      expect(relocated).toEqual([]);
      expect(existsSync(join(dataDir, 'pgdata', 'PG_VERSION'))).toBe(true);
      expect(existsSync(join(dataDir, 'pgdata.location'))).toBe(false);
      expect(existsSync(clustersDir)).toBe(false);
      for (const made of [dirname(dirname(dataDir)), dirname(dataDir)]) {
        expect((await stat(made)).mode & 0o777).toBe(0o711);
      }
    } finally {
      await database.close();
    }
  });
});
