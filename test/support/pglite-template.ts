import { cp, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPGliteDataDir } from '../../src/storage/pglite-create.js';

/**
 * Creating an embedded database (initdb) costs seconds of CPU; copying a created one costs
 * milliseconds. Each test worker creates one template, once, and every test that only needs "an
 * embedded database in this data directory" gets a copy. Tests of the creation itself (first
 * start) must not use this.
 */

let template: Promise<string> | undefined;

function workerTemplate(): Promise<string> {
  template ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shenma-pglite-template-'));
    const pgdata = join(dir, 'pgdata');
    await mkdir(pgdata, { mode: 0o700 });
    await createPGliteDataDir(pgdata);
    return pgdata;
  })();
  return template;
}

/** Puts a fresh, empty embedded database into `<dataDir>/pgdata` (creating `dataDir` 0700). */
export async function seedEmbeddedDatabase(dataDir: string): Promise<void> {
  const from = await workerTemplate();
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await cp(from, join(dataDir, 'pgdata'), { recursive: true });
}
