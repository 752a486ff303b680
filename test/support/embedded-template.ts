import { chmod, cp, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/storage/database.js';
import { embeddedPostgresVersion } from '../../src/storage/embedded-postgres/binaries.js';

/**
 * Creating an embedded database (initdb) costs a second or more of CPU; copying a created one
 * costs milliseconds. One empty cluster per embedded PostgreSQL version is created in the temp
 * directory, once (shared by every test file and worker, and by later runs), and every test that
 * only needs "an embedded database in this data directory" gets a copy (Shenma gives a copy made
 * by root back to its server user at start). Tests of the creation itself (first start,
 * openDatabase on a new directory) must not use this.
 */

let template: Promise<string> | undefined;

function hasCluster(dir: string): Promise<boolean> {
  return readFile(join(dir, 'PG_VERSION'), 'utf8').then(
    () => true,
    () => false,
  );
}

function sharedTemplate(): Promise<string> {
  template ??= (async () => {
    const target = join(tmpdir(), `shenma-test-pgdata-${await embeddedPostgresVersion()}`);
    if (await hasCluster(target)) return target;
    // Built aside and renamed into place, so a reader never sees a half-made one; when two
    // workers race, the first rename wins and the other copy is dropped. The temp directory is
    // made reachable: as root, the server runs as an unprivileged user that must enter it.
    const building = await mkdtemp(join(tmpdir(), 'shenma-test-pgdata-building-'));
    try {
      await chmod(building, 0o711);
      const database = await openDatabase({ dataDir: building });
      await database.close();
      await rename(join(building, 'pgdata'), target).catch(() => undefined);
    } finally {
      await rm(building, { recursive: true, force: true });
    }
    if (!(await hasCluster(target))) throw new Error(`could not prepare the embedded template at ${target}`);
    return target;
  })();
  return template;
}

/** Puts a fresh, empty embedded database into `<dataDir>/pgdata` (creating `dataDir` 0700). */
export async function seedEmbeddedDatabase(dataDir: string): Promise<void> {
  const from = await sharedTemplate();
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await cp(from, join(dataDir, 'pgdata'), { recursive: true });
}
