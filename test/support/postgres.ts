import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * Real PostgreSQL for tests: a fresh database per caller on the server at SHENMA_TEST_PG_URL
 * (default the local one CI starts). Without a server, callers fall back to embedded PostgreSQL
 * (its own server) and say so; under CI a missing server is an error, never a silent skip.
 */

export const PG_ADMIN_URL = process.env.SHENMA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let reachable: Promise<boolean> | undefined;

export function postgresReachable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 1500 });
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } catch {
      if (process.env.CI)
        throw new Error(`PostgreSQL is not reachable at ${PG_ADMIN_URL}, and CI must test against it`);
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return reachable;
}

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates an empty database; `drop()` removes it (forcing out leftover connections). */
export async function createScratchDatabase(label = 'test'): Promise<ScratchDatabase> {
  const name = `shenma_${label}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}
