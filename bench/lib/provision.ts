import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/**
 * Gives the benchmark a credential: creates user `bench` and a personal API token in a fresh
 * data directory before `shenma start` opens it (the embedded database allows one process at a
 * time). It uses the built dist/ modules at run time, so the benchmark does not break at compile time
 * when their signatures move. Run as its own process:
 *   node --import tsx bench/lib/provision.ts --data-dir DIR [--database-url postgres://…]
 * Prints `TOKEN <secret>`, or `NOAUTH` when this build has no identity store yet.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Db {
  db: unknown;
  close(): Promise<void>;
}
type Module = Record<string, unknown>;

async function load(rel: string): Promise<Module | undefined> {
  const file = join(ROOT, 'dist', rel);
  if (!existsSync(file)) return undefined;
  return (await import(pathToFileURL(file).href)) as Module;
}

function need<T>(mod: Module | undefined, name: string, file: string): T {
  const v = mod?.[name];
  if (v === undefined)
    throw new Error(
      `dist/${file} has no export ${name}: the identity API moved, update bench/lib/provision.ts`,
    );
  return v as T;
}

async function main() {
  const { values } = parseArgs({
    options: { 'data-dir': { type: 'string' }, 'database-url': { type: 'string' }, user: { type: 'string' } },
  });
  const dataDir = values['data-dir'];
  if (!dataDir) throw new Error('--data-dir is required');
  const users = await load('identity/users.js');
  if (!users) {
    process.stdout.write('NOAUTH\n');
    return;
  }
  const database = await load('storage/database.js');
  const migrations = await load('storage/migrate.js');
  const openDatabase = need<(o: { dataDir: string; url?: string }) => Promise<Db>>(
    database,
    'openDatabase',
    'storage/database.js',
  );
  const migrate = need<(db: unknown) => Promise<unknown>>(migrations, 'migrate', 'storage/migrate.js');
  const UserStore = need<new (db: unknown) => { add(name: string, password?: string): Promise<unknown> }>(
    users,
    'UserStore',
    'identity/users.js',
  );
  const TokenStore = need<
    new (
      db: unknown,
    ) => { create(user: string, o: { name?: string }): Promise<{ secret: string }> }
  >(users, 'TokenStore', 'identity/users.js');
  const url = values['database-url'];
  const db = await openDatabase({ dataDir, ...(url ? { url } : {}) });
  try {
    await migrate(db.db);
    const name = values.user ?? 'bench';
    await new UserStore(db.db).add(name, undefined);
    const { secret } = await new TokenStore(db.db).create(name, { name: 'bench' });
    process.stdout.write(`TOKEN ${secret}\n`);
  } finally {
    await db.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`provision: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
