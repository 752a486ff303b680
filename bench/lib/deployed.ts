import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { onExit } from './proc.js';

/**
 * The deployed shape for the benchmarks (issue #10): Shenma with `database.url` on a real
 * PostgreSQL server and `redis.url` on a real Redis, as every replica of a multi-replica install
 * runs. A scratch database is created for the run and dropped on exit; Redis is only pinged here
 * (Shenma's keys carry its own prefix, and the benchmark never flushes anything).
 */

export const BENCH_PG_ADMIN_URL =
  process.env.SHENMA_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const BENCH_REDIS_URL = process.env.SHENMA_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface DeployedShape {
  databaseUrl: string;
  redisUrl: string;
}

/** Creates the scratch database, or says why the deployed rows cannot run here. */
export async function prepareDeployedShape(): Promise<DeployedShape | { skipped: string }> {
  const name = `shenma_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: BENCH_PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
    await admin.query(`create database ${name}`);
  } catch (err) {
    return { skipped: `PostgreSQL at ${BENCH_PG_ADMIN_URL} is not usable (${(err as Error).message})` };
  } finally {
    await admin.end().catch(() => {});
  }
  // Synchronous, so it also runs when the benchmark exits on an error or Ctrl-C.
  onExit(() => {
    spawnSync('psql', [BENCH_PG_ADMIN_URL, '-qc', `drop database if exists ${name} with (force)`], {
      stdio: 'ignore',
      timeout: 10_000,
    });
  });
  const redis = new Redis(BENCH_REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 3000,
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    return { skipped: `Redis at ${BENCH_REDIS_URL} is not usable (${(err as Error).message})` };
  } finally {
    redis.disconnect();
  }
  const url = new URL(BENCH_PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return { databaseUrl: url.toString(), redisUrl: BENCH_REDIS_URL };
}
