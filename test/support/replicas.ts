import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { TokenStore, UserStore } from '../../src/identity/users.js';
import { openDatabase } from '../../src/storage/database.js';
import { createScratchDatabase, postgresReachable, type ScratchDatabase } from './postgres.js';
import { deleteKeys, REDIS_TEST_URL, redisUnreachable, testKeyPrefix } from './redis.js';

/**
 * Several Shenma replicas as the deployed shape runs them: separate `shenma start` processes
 * (the CLI entry, through tsx), each with its own data directory, all on one real PostgreSQL
 * scratch database and one real Redis under a fresh key prefix. Users and API tokens are created
 * in the shared database, so every replica accepts them.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
// Absolute, because the CLI runs in a scratch directory where `tsx` would not resolve.
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

export interface ShenmaProcess {
  /** http://127.0.0.1:PORT */
  url: string;
  child: ChildProcess;
  output(): { out: string; err: string };
  /** SIGTERM (or the given signal), then the exit code (or the signal's name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Why several replicas cannot be started here, or undefined when PostgreSQL and Redis answer. */
export async function replicasUnavailable(): Promise<string | undefined> {
  const redis = await redisUnreachable();
  if (redis) return `Redis is unreachable at ${REDIS_TEST_URL} (${redis})`;
  // postgresReachable() throws under CI when PostgreSQL is missing.
  if (!(await postgresReachable())) return 'PostgreSQL is unreachable';
  return undefined;
}

/** Starts `shenma start --config shenma.yaml --port 0` in `dir` and waits until it listens. */
export async function startShenmaProcess(
  dir: string,
  env: Record<string, string> = {},
): Promise<ShenmaProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      TSX_LOADER,
      path.join(ROOT, 'src/cli/run.ts'),
      'start',
      '--config',
      'shenma.yaml',
      '--port',
      '0',
      '--data-dir',
      'state',
    ],
    { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    // Start-up on a busy machine (tsx compiling, migrations on first start) can take a while.
    const deadline = Date.now() + 90_000;
    const poll = setInterval(() => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearInterval(poll);
        resolve(m[1]!);
      } else if (child.exitCode !== null || Date.now() > deadline) {
        clearInterval(poll);
        child.kill('SIGKILL');
        reject(new Error(`shenma did not start (exit ${child.exitCode}); stdout:\n${out}\nstderr:\n${err}`));
      }
    }, 50);
  });
  return {
    url,
    child,
    output: () => ({ out, err }),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface ReplicaSet {
  replicas: ShenmaProcess[];
  /** The Redis key prefix the replicas share (config `redis.keyPrefix`). */
  keyPrefix: string;
  /** Adds a user and returns a personal API token for it, valid on every replica. */
  userToken(name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts `count` replicas with the same config: `config` is the YAML for everything but
 * `database`, `redis` and `log`, which the set adds. The first replica starts (and migrates the
 * database) before the others.
 */
export async function startReplicas(count: number, config: string): Promise<ReplicaSet> {
  const keyPrefix = testKeyPrefix('replicas');
  const scratch: ScratchDatabase = await createScratchDatabase('replicas');
  const dirs: string[] = [];
  const replicas: ShenmaProcess[] = [];
  const close = async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await scratch.drop();
    await deleteKeys(keyPrefix);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    const yaml = [
      config.trimEnd(),
      'database:',
      `  url: ${scratch.url}`,
      'redis:',
      `  url: ${REDIS_TEST_URL}`,
      `  keyPrefix: '${keyPrefix}'`,
      'log:',
      `  level: ${process.env.SHENMA_TEST_LOG ?? 'warn'}`,
      '',
    ].join('\n');
    for (let i = 0; i < count; i++) {
      const dir = mkdtempSync(path.join(tmpdir(), `shenma-replica-${i}-`));
      dirs.push(dir);
      writeFileSync(path.join(dir, 'shenma.yaml'), yaml);
      replicas.push(await startShenmaProcess(dir));
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    replicas,
    keyPrefix,
    userToken: async (name) => {
      const database = await openDatabase({ url: scratch.url, dataDir: '/nonexistent' });
      try {
        await new UserStore(database.db).add(name, undefined);
        return (await new TokenStore(database.db).create(name, { name: 'replica tests' })).secret;
      } finally {
        await database.close();
      }
    },
    close,
  };
}
