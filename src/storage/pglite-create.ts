import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Creating an embedded database (PostgreSQL's initdb inside PGlite) takes seconds of CPU and
 * about half a gigabyte more memory than opening an existing one, and blocks the event loop while
 * it runs. It is done once per data directory, so it runs in a short-lived child process: the
 * server keeps answering /healthz meanwhile, and its own memory never carries initdb's peak.
 */

const CREATE_SCRIPT = `
const [moduleUrl, dataDir] = process.argv.slice(1);
const { PGlite } = await import(moduleUrl);
const db = await PGlite.create({ dataDir });
await db.close();
`;

/** True when `pgdata` holds no database yet (PostgreSQL writes PG_VERSION when it creates one). */
export function needsCreate(pgdata: string): boolean {
  return !existsSync(join(pgdata, 'PG_VERSION'));
}

export async function createPGliteDataDir(pgdata: string): Promise<void> {
  const moduleUrl = pathToFileURL(createRequire(import.meta.url).resolve('@electric-sql/pglite')).href;
  const child = spawn(process.execPath, ['--input-type=module', '--eval', CREATE_SCRIPT, moduleUrl, pgdata], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 4000) stderr += d;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  });
  if (code !== 0) {
    throw new Error(`creating the embedded database in ${pgdata} failed (exit ${code}): ${stderr.trim()}`);
  }
}
