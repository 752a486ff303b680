import { cp, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPGliteDataDir, needsCreate } from '../../src/storage/pglite-create.js';

/**
 * Creating an embedded database (initdb) costs seconds of CPU; copying a created one costs
 * milliseconds. One empty database per PGlite version is created in the temp directory, once
 * (shared by every test file and worker, and by later runs), and every test that only needs "an
 * embedded database in this data directory" gets a copy. Tests of the creation itself (first
 * start, openDatabase on a new directory) must not use this.
 */

let template: Promise<string> | undefined;

async function pgliteVersion(): Promise<string> {
  const pkg = new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url);
  return (JSON.parse(await readFile(pkg, 'utf8')) as { version: string }).version;
}

function sharedTemplate(): Promise<string> {
  template ??= (async () => {
    const target = join(tmpdir(), `shenma-test-pglite-${await pgliteVersion()}`);
    if (!needsCreate(target)) return target;
    // Built aside and renamed into place, so a reader never sees a half-made one; when two
    // workers race, the first rename wins and the other copy is dropped.
    const building = await mkdtemp(join(tmpdir(), 'shenma-test-pglite-building-'));
    const pgdata = join(building, 'pgdata');
    await mkdir(pgdata, { mode: 0o700 });
    await createPGliteDataDir(pgdata);
    await rename(pgdata, target).catch(() => undefined);
    await rm(building, { recursive: true, force: true });
    if (needsCreate(target)) throw new Error(`could not prepare the PGlite template at ${target}`);
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
