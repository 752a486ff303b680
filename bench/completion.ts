import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SERVER_NODE_FLAGS } from '../src/server/node-flags.js';
import { type DeployedShape, prepareDeployedShape } from './lib/deployed.js';
import { type FakeControl, type Script, type StreamRecord, spawnFakeModel } from './lib/fake.js';
import { LADDER_RUNGS } from './lib/floor-work.js';
import { makePool, type PhaseResult, runPhase, sendOnce, type Target } from './lib/load.js';
import { findNginx, startNginx } from './lib/nginx.js';
import {
  type PerfWindow,
  perfFlagsFor,
  perfOwnerCounts,
  perfOwnerRows,
  perfTableTitle,
  refuseBothProfilers,
  startPerf,
} from './lib/perf.js';
import {
  type Child,
  epochMs,
  installExitHandlers,
  isStopping,
  memMiB,
  onExit,
  processTree,
  sleep,
  spawnChild,
  stopAll,
} from './lib/proc.js';
import { type Hotspot, keepProfile, summariseProfile, type Window } from './lib/profile.js';
import { type ShenmaProcess, startGroup, startShenma } from './lib/shenma.js';
import { againstLine, fmt, median, medianItem, percentile, signed, table } from './lib/stats.js';
import { warmTarget } from './lib/warm-up.js';
import {
  COMPLETION_TEXT,
  extensionBody,
  newStreamId,
  openAiBody,
  PREFIX_TEMPLATE,
  SUFFIX,
} from './lib/workload.js';

/**
 * `npm run bench:completion`: what Shenma's completion path costs on top of the model, measured
 * against a plain nginx reverse proxy and a bare Node proxy in the same run (see bench/README.md).
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const USAGE = `usage: npm run bench:completion -- [--rounds N] [--measure-ms N] [--pin] [--skip-build] [--quick]
  --rounds N       interleaved rounds; every number is the median over rounds (default 3, at least 1)
  --measure-ms N   measured time per phase at c=16/64 and for throughput (default 2000; c=1 gets 1.5x)
  --pin            taskset: proxies (Shenma, nginx, Node proxy) on CPU 0, fake model + load generator on CPU 1
  --skip-nginx     leave nginx out even when it is installed
  --skip-floor     leave out the node-floor row (the least a Node completion gateway must do, bench/lib/floor-proxy.ts)
  --ladder         add the rungs between the floor and Shenma (bench/lib/ladder-proxy.ts: + Fastify, + Shenma's
                   model client, + Shenma's completion engine) and a table of what each rung costs; the floor and
                   each rung run as --processes processes, and the table divides their medians
  --skip-deployed  leave out the shenma-pg row (Shenma on the real PostgreSQL + Redis, see bench/lib/deployed.ts)
  --skip-build     use the existing dist/ instead of running \`npm run build\` first
  --quick          smoke run: 1 round, 600 ms phases
  --profile        run Shenma under \`node --cpu-prof\` and print its hottest functions (skews its numbers)
  --perf           record the first process of the bare proxy, the floor, every rung and Shenma with Linux perf
                   (CPU clock, kernel included; needs the \`perf\` command) and print, per phase, each one's CPU
                   per request by owner: what V8's profiler misplaces (system calls, other threads) included
  --phases LIST    only these parts, comma-separated: c1,c16,c64,instant,breakdown,abort (default: all)
  --processes N    run this build's Shenma and the bare Node proxy as N processes each (default 3; --quick: 1).
                   Two processes of one build settle into CPU costs 5-9 % apart, so the CPU verdicts divide the
                   medians of the two groups and the latency verdicts read Shenma's median process (rows shenma,
                   shenma-2, ..., node-proxy, node-proxy-2, ...)
  --compare N=DIR  also measure the Shenma of another checkout (built dist/, node_modules) as rows "N", "N-2",
                   ... (--processes of them), interleaved with this one: before/after ratios of medians from one run`;

const CONCURRENCIES = [1, 16, 64] as const;
const THROUGHPUT_CLIENTS = 32;
const HEADLINE_C = 16;
const MAX_REQUESTS_PER_PHASE = 100_000;
const FAKE_TTFT_MS = 20;
const FAKE_CHUNKS = 16;
const FAKE_INTER_CHUNK_MS = 1;
const INSTANT: Script = { chunks: [COMPLETION_TEXT], ttftMs: 0, interChunkMs: 0 };
/** The slow stream aborted mid-way: 60 chunks 50 ms apart (3 s, inside Shenma's 5 s deadline). */
const SLOW_INTERVAL_MS = 50;
const SLOW: Script = {
  chunks: Array.from({ length: 60 }, (_, i) => ` + part_${i}`),
  ttftMs: 20,
  interChunkMs: SLOW_INTERVAL_MS,
};
/** Half-way between two chunk writes (chunks leave at 20 + 50·k ms), well into the stream. */
const ABORT_AFTER_MS = 20 + 5 * SLOW_INTERVAL_MS + SLOW_INTERVAL_MS / 2;
const ABORTS_PER_TARGET = 8;

const log = (s = '') => process.stdout.write(`${s}\n`);
const progress = (s: string) => process.stderr.write(`  · ${s}\n`);

function options() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string' },
      'measure-ms': { type: 'string' },
      pin: { type: 'boolean' },
      'skip-build': { type: 'boolean' },
      'skip-nginx': { type: 'boolean' },
      'skip-floor': { type: 'boolean' },
      ladder: { type: 'boolean' },
      'skip-deployed': { type: 'boolean' },
      quick: { type: 'boolean' },
      profile: { type: 'boolean' },
      perf: { type: 'boolean' },
      phases: { type: 'string' },
      compare: { type: 'string', multiple: true },
      processes: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    log(USAGE);
    process.exit(0);
  }
  const int = (v: string | undefined, fallback: number, min: number, max: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`expected an integer in ${min}..${max}, got "${v}"`);
    return n;
  };
  const quick = values.quick ?? false;
  const PARTS = ['c1', 'c16', 'c64', 'instant', 'breakdown', 'abort'];
  const phases = new Set(values.phases ? values.phases.split(',').map((x) => x.trim()) : PARTS);
  for (const x of phases)
    if (!PARTS.includes(x)) throw new Error(`--phases: unknown part "${x}" (${PARTS.join(',')})`);
  refuseBothProfilers(values.profile, values.perf);
  const compare = (values.compare ?? []).map((c) => {
    const at = c.indexOf('=');
    if (at <= 0) throw new Error(`--compare: expected NAME=DIR, got "${c}"`);
    return { name: c.slice(0, at), root: resolve(c.slice(at + 1)) };
  });
  return {
    phases,
    compare,
    rounds: int(values.rounds, quick ? 1 : 3, 1, 20),
    processes: int(values.processes, quick ? 1 : 3, 1, 9),
    measureMs: int(values['measure-ms'], quick ? 600 : 2000, 200, 30_000),
    pin: values.pin ?? false,
    build: !(values['skip-build'] ?? false),
    nginx: !(values['skip-nginx'] ?? false),
    floor: !(values['skip-floor'] ?? false),
    ladder: values.ladder ?? false,
    deployed: !(values['skip-deployed'] ?? false),
    quick,
    profile: values.profile ?? false,
    perf: values.perf ?? false,
  };
}

function hasTaskset(): boolean {
  return spawnSync('sh', ['-c', 'command -v taskset'], { encoding: 'utf8' }).status === 0;
}

function cpuModel(): string {
  try {
    return (
      /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown CPU'
    );
  } catch {
    return 'unknown CPU';
  }
}

function nginxVersion(bin: string): string {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  return (r.stderr || r.stdout).trim().replace(/^nginx version:\s*/, '');
}

function build() {
  progress('npm run build');
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout}\n${r.stderr}\n`);
    throw new Error('`npm run build` failed: the tree does not compile right now (see above)');
  }
}

function shenmaConfig(fakeUrl: string, deployed?: DeployedShape): string {
  return `# written by bench/completion.ts
log:
  level: warn
models:
  - name: coder
    kind: openai
    url: ${fakeUrl}/v1
    family: deepseek-coder
    maxQueue: 256
completion:
  cache:
    maxEntries: 0
${deployed ? `database:\n  url: ${deployed.databaseUrl}\nredis:\n  url: ${deployed.redisUrl}\n` : ''}`;
}

interface ExtensionAnswer {
  choices?: { text?: string }[];
  reason?: string;
}

/** The first Shenma answer must carry the whole suggestion, or every number after it is meaningless. */
async function checkShenma(t: Target): Promise<void> {
  let lastError = '';
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const answer = JSON.parse(await sendOnce(t, newStreamId())) as ExtensionAnswer;
      const text = answer.choices?.[0]?.text ?? '';
      if (text === '') {
        throw new Error(
          `ABORTING: Shenma answered without a suggestion (reason ${answer.reason ?? '?'}): ${JSON.stringify(answer).slice(0, 400)}`,
        );
      }
      if (text !== COMPLETION_TEXT) {
        log(
          `WARNING: Shenma's suggestion differs from what the fake streamed, so it may not read the whole stream:`,
        );
        log(`  got      ${JSON.stringify(text)}\n  streamed ${JSON.stringify(COMPLETION_TEXT)}`);
      }
      return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
      if (lastError.startsWith('ABORTING')) throw err;
      // 503 until the model's first health check passed: wait a little.
      await sleep(500);
    }
  }
  throw new Error(`ABORTING: Shenma never answered a completion: ${lastError}`);
}

interface AbortSample {
  closed: boolean;
  /** Content chunks the fake wrote after the benchmark called abort(). */
  afterAbort: number;
  /** Content chunks written after the fake saw its client (the proxy) close. */
  afterClose: number;
  /** From the benchmark's abort() to the fake seeing its connection close. */
  closeDelayMs: number;
  settled: 'aborted' | 'completed';
}

/** Starts a long slow stream, aborts it client-side mid-way, reads what the model kept writing. */
async function abortCost(t: Target, fake: FakeControl): Promise<AbortSample[]> {
  const samples: AbortSample[] = [];
  for (let i = 0; i < ABORTS_PER_TARGET; i++) {
    await fake.reset();
    await fake.enqueue(SLOW);
    const ac = new AbortController();
    const settled = sendOnce(t, newStreamId(), ac.signal).then(
      () => 'completed' as const,
      () => 'aborted' as const,
    );
    await sleep(ABORT_AFTER_MS);
    const abortAt = epochMs();
    ac.abort();
    const outcome = await settled;
    let rec: StreamRecord | undefined;
    // Bounded: the slow stream lasts 3 s; give up on it after 4.
    for (let k = 0; k < 80; k++) {
      rec = (await fake.streams())[0];
      if (rec && (rec.clientClosed || rec.finished)) break;
      await sleep(50);
    }
    // One more chunk interval, so a write that was already scheduled would show up.
    await sleep(SLOW_INTERVAL_MS + 10);
    rec = (await fake.streams())[0];
    if (!rec) throw new Error(`abort test via ${t.name}: the request never reached the fake model`);
    const closedAt = rec.clientClosedAt;
    samples.push({
      closed: rec.clientClosed,
      afterAbort: rec.chunkWrittenAt.filter((w) => w > abortAt).length,
      afterClose: closedAt === undefined ? Number.NaN : rec.chunkWrittenAt.filter((w) => w > closedAt).length,
      closeDelayMs: closedAt === undefined ? Number.NaN : closedAt - abortAt,
      settled: outcome,
    });
  }
  await fake.reset();
  return samples;
}

interface Breakdown {
  client: number;
  engineTotal: number;
  firstToken: number;
  prompt: number;
  queue: number;
  outside: number;
}

const DIAGNOSTIC_REQUESTS = 40;

/**
 * One client, one request at a time, with \`verbose\` so Shenma reports its engine's timings:
 * the client's latency minus the engine's total is what happens outside the engine (HTTP, body
 * parsing and validation, authentication, reply serialisation).
 */
async function shenmaBreakdown(t: Target): Promise<Breakdown> {
  const verbose: Target = { ...t, body: extensionBody({ verbose: true }) };
  const rows: Breakdown[] = [];
  const stream = newStreamId();
  for (let i = 0; i < DIAGNOSTIC_REQUESTS; i++) {
    const t0 = performance.now();
    const answer = JSON.parse(await sendOnce(verbose, stream)) as {
      debug?: { timings_ms?: Record<string, number> };
    };
    const client = performance.now() - t0;
    const tm = answer.debug?.timings_ms ?? {};
    const engineTotal = tm['totalMs'] ?? Number.NaN;
    rows.push({
      client,
      engineTotal,
      firstToken: tm['firstTokenMs'] ?? Number.NaN,
      prompt: tm['promptMs'] ?? Number.NaN,
      queue: tm['queueMs'] ?? Number.NaN,
      outside: client - engineTotal,
    });
  }
  const m = (k: keyof Breakdown) => median(rows.map((r) => r[k]));
  return {
    client: m('client'),
    engineTotal: m('engineTotal'),
    firstToken: m('firstToken'),
    prompt: m('prompt'),
    queue: m('queue'),
    outside: m('outside'),
  };
}

type PhaseKey = `c${number}` | 'instant';

async function main() {
  installExitHandlers();
  const opts = options();
  const started = Date.now();
  const tmp = mkdtempSync(join(os.tmpdir(), 'shenma-bench-'));
  onExit(() => rmSync(tmp, { recursive: true, force: true }));

  const pin = opts.pin && hasTaskset();
  const proxyCpus = pin ? '0' : undefined;
  const restCpus = pin ? '1' : undefined;
  if (pin) execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  const nginxBin = opts.nginx ? findNginx() : undefined;
  const perfFlags = perfFlagsFor(opts.perf);

  log(`Shenma completion benchmark — ${new Date().toISOString()}`);
  log(
    `machine: ${os.cpus().length} CPUs (${cpuModel()}), Node ${process.version}, nginx ${nginxBin ? nginxVersion(nginxBin) : 'absent'}, load average ${os.loadavg()[0]!.toFixed(2)}`,
  );
  log(
    pin
      ? 'pinning: Shenma, nginx and the Node proxy on CPU 0 (one at a time under load); fake model and load generator on CPU 1'
      : `pinning: none${opts.pin ? ' (taskset not found)' : ''} — all processes share all CPUs`,
  );
  log(
    `workload: /v2/completions extension body, ${(PREFIX_TEMPLATE.length / 1024).toFixed(1)} KB Python prefix + ${SUFFIX.split('\n').length - 1}-line suffix, unique per request; ` +
      `fake model: ttft ${FAKE_TTFT_MS} ms, ${FAKE_CHUNKS} chunks ${FAKE_INTER_CHUNK_MS} ms apart; ` +
      `${opts.rounds} interleaved round(s), ${opts.measureMs} ms measured per phase`,
  );
  if (!nginxBin) {
    log(
      opts.nginx
        ? 'NOTE: nginx not found (command -v nginx, /usr/sbin/nginx): its column is SKIPPED (Debian: apt-get install -y nginx)'
        : 'NOTE: --skip-nginx: the nginx column is SKIPPED',
    );
  }
  log();

  if (opts.build) build();

  // Processes: fake model, bare Node proxy, nginx, Shenma (embedded shape, as a user starts it).
  const {
    child: fakeChild,
    url: fakeUrl,
    control: fake,
  } = await spawnFakeModel({
    ttftMs: FAKE_TTFT_MS,
    interChunkMs: FAKE_INTER_CHUNK_MS,
    chunks: FAKE_CHUNKS,
    text: COMPLETION_TEXT,
    root: ROOT,
    ...(restCpus ? { cpus: restCpus } : {}),
  });
  progress(`fake model ${fakeUrl} (pid ${fakeChild.pid})`);

  /** One of the benchmark's own servers (bench/lib/*.ts, in front of the fake model) as a row. */
  const benchServer =
    (script: string, nodeArgs: (name: string) => string[] = () => [], extraArgs: string[] = []) =>
    async (name: string) => {
      const { child, match } = await spawnChild({
        name,
        command: process.execPath,
        args: [...nodeArgs(name), '--import', 'tsx', script, '--upstream', fakeUrl, ...extraArgs],
        cwd: ROOT,
        ready: /^READY (\S+)/,
        ...(proxyCpus ? { cpus: proxyCpus } : {}),
      });
      return { pid: child.pid, url: match![1]! };
    };

  // The bare proxy is the ratios' denominator and varies between processes as much as Shenma does,
  // so it runs as many processes as this build (rows node-proxy, node-proxy-2, …).
  const nodeProxies = await startGroup(
    'node-proxy',
    opts.processes,
    benchServer('bench/lib/node-proxy.ts', (name) => perfFlags(name, 'node-proxy')),
    (p) => `${p.url} (the bare Node proxy, pid ${p.pid})`,
    progress,
  );

  // With --ladder the floor and every rung run as --processes processes too, so each step of the
  // ladder divides two group medians, as the verdicts do; otherwise the floor is one reference row.
  const ladderProcesses = opts.ladder ? opts.processes : 1;
  const floors = opts.floor
    ? await startGroup(
        'node-floor',
        ladderProcesses,
        benchServer('bench/lib/floor-proxy.ts', (name) => perfFlags(name, 'node-floor')),
        (p) => `${p.url} (the completion floor, pid ${p.pid})`,
        progress,
      )
    : [];

  // The rungs between the floor and Shenma, one of Shenma's layers added per rung.
  /** Each rung's processes (`rung-engine`, `rung-engine-2`, …), in ladder order. */
  const rungGroups: { name: string; members: { name: string; proc: { pid: number; url: string } }[] }[] = [];
  // With --profile the first process of every rung is profiled too, so each step of the ladder is
  // shown owner by owner.
  const rungProfileDir = (name: string) => join(tmp, `profile-${name}`);
  for (const rung of opts.ladder ? LADDER_RUNGS : []) {
    const group = await startGroup(
      `rung-${rung}`,
      ladderProcesses,
      benchServer(
        'bench/lib/ladder-proxy.ts',
        // Each rung runs as Shenma does, with the server's Node flags; the floor and the bare proxy
        // are plain Node.
        (name) => [
          ...SERVER_NODE_FLAGS,
          ...perfFlags(name, `rung-${rung}`),
          ...(opts.profile && name === `rung-${rung}`
            ? ['--cpu-prof', '--cpu-prof-dir', rungProfileDir(name)]
            : []),
        ],
        ['--rung', rung],
      ),
      (p) => `${p.url} (pid ${p.pid})`,
      progress,
    );
    rungGroups.push({ name: `rung-${rung}`, members: group });
  }

  let nginx: { child: Child; url: string } | undefined;
  if (nginxBin) {
    nginx = await startNginx(nginxBin, join(tmp, 'nginx'), new URL(fakeUrl), proxyCpus);
    progress(
      `nginx ${nginx.url} (master pid ${nginx.child.pid}, workers ${processTree(nginx.child.pid).slice(1).join(' ')})`,
    );
  }

  const profileDir = join(tmp, 'profile');
  // This build as --processes processes: each settles into its own JIT state (see --processes);
  // the first one (\`shenma\`) is the one profiled and measured for memory.
  const [first, ...siblings] = await startGroup(
    'shenma',
    opts.processes,
    (name) =>
      startShenma({
        name,
        root: ROOT,
        config: shenmaConfig(fakeUrl),
        dir: join(tmp, name),
        ...(opts.profile && name === 'shenma' ? { profileDir } : {}),
        nodeArgs: perfFlags(name, 'shenma'),
        ...(proxyCpus ? { cpus: proxyCpus } : {}),
      }),
    (proc) =>
      `${proc.url} (this build, node pid ${proc.child.pid}, ready in ${(proc.readyMs / 1000).toFixed(1)} s)`,
    progress,
  );
  const embedded = first!.proc;
  const { child: shenma, url: shenmaUrl, readyMs: shenmaReadyMs, token } = embedded;
  progress(
    token ? 'created user "bench" with an API token' : 'this build has no identity store: no credential sent',
  );

  // The deployed shape: the same Shenma on the real PostgreSQL and Redis (multi-replica path).
  let deployed: ShenmaProcess | undefined;
  if (opts.deployed) {
    const shape = await prepareDeployedShape();
    if ('skipped' in shape) log(`NOTE: the shenma-pg row is SKIPPED: ${shape.skipped}`);
    else {
      deployed = await startShenma({
        name: 'shenma-pg',
        root: ROOT,
        config: shenmaConfig(fakeUrl, shape),
        dir: join(tmp, 'shenma-pg'),
        databaseUrl: shape.databaseUrl,
        ...(proxyCpus ? { cpus: proxyCpus } : {}),
      });
      progress(`shenma-pg ${deployed.url} (node pid ${deployed.child.pid}, PostgreSQL + Redis)`);
    }
  }

  // Other checkouts' Shenma (--compare): same config, same credential set-up, their own dist/; as
  // many processes as this build (rows N, N-2, …), so that before → after divides two medians.
  const comparedGroups = new Map<string, { name: string; proc: ShenmaProcess }[]>();
  for (const c of opts.compare) {
    const group = await startGroup(
      c.name,
      opts.processes,
      (name) =>
        startShenma({
          name,
          root: c.root,
          config: shenmaConfig(fakeUrl),
          dir: join(tmp, `compare-${name}`),
          ...(proxyCpus ? { cpus: proxyCpus } : {}),
        }),
      (p) => `${p.url} (${c.root}, node pid ${p.child.pid})`,
      progress,
    );
    comparedGroups.set(c.name, group);
  }
  const compared = [...comparedGroups.values()].flat();

  const connections = Math.max(...CONCURRENCIES, THROUGHPUT_CLIENTS) + 8;
  const openAi = openAiBody();
  const targets: Target[] = [
    {
      name: 'direct',
      url: fakeUrl,
      path: '/v1/completions',
      body: openAi,
      kind: 'sse',
      pool: makePool(fakeUrl, connections),
    },
    ...(nginx
      ? [
          {
            name: 'nginx',
            url: nginx.url,
            path: '/v1/completions',
            body: openAi,
            kind: 'sse' as const,
            pid: nginx.child.pid,
            pool: makePool(nginx.url, connections),
          },
        ]
      : []),
    ...nodeProxies.map(({ name, proc }) => ({
      name,
      url: proc.url,
      path: '/v1/completions',
      body: openAi,
      kind: 'sse' as const,
      pid: proc.pid,
      pool: makePool(proc.url, connections),
    })),
    // The floor and the rungs answer the extension's request as Shenma does, without credentials.
    ...[...floors, ...rungGroups.flatMap((g) => g.members)].map(({ name, proc }) => ({
      name,
      url: proc.url,
      path: '/v2/completions',
      body: extensionBody(),
      kind: 'json' as const,
      pid: proc.pid,
      pool: makePool(proc.url, connections),
    })),
    {
      name: 'shenma',
      url: shenmaUrl,
      path: '/v2/completions',
      body: extensionBody(),
      kind: 'json',
      pid: shenma.pid,
      // The extension sends its access token this way (openai-node: Authorization: Bearer).
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
      pool: makePool(shenmaUrl, connections),
    },
    ...(deployed
      ? [
          {
            name: 'shenma-pg',
            url: deployed.url,
            path: '/v2/completions',
            body: extensionBody(),
            kind: 'json' as const,
            pid: deployed.child.pid,
            ...(deployed.token ? { headers: { authorization: `Bearer ${deployed.token}` } } : {}),
            pool: makePool(deployed.url, connections),
          },
        ]
      : []),
    ...[...siblings, ...compared].map(({ name, proc }) => ({
      name,
      url: proc.url,
      path: '/v2/completions',
      body: extensionBody(),
      kind: 'json' as const,
      pid: proc.child.pid,
      ...(proc.token ? { headers: { authorization: `Bearer ${proc.token}` } } : {}),
      pool: makePool(proc.url, connections),
    })),
  ];
  const byName = (n: string) => targets.find((t) => t.name === n);

  await checkShenma(byName('shenma')!);
  if (deployed) await checkShenma(byName('shenma-pg')!);
  for (const { name } of [...siblings, ...compared]) await checkShenma(byName(name)!);
  for (const t of targets) if (t.kind === 'sse') await sendOnce(t, newStreamId());
  const shenmaIdleHwm = memMiB(shenma.pid, 'VmHWM');
  const shenmaIdleRss = memMiB(shenma.pid, 'VmRSS');

  // JIT warm-up of every path before anything is measured: load until its CPU per request settles.
  for (const t of targets) {
    const line = await warmTarget(
      t,
      { quick: opts.quick, quickWindowMs: 600, unit: 'request' },
      async (ms) => {
        await fake.reset();
        const r = await runPhase(t, {
          concurrency: HEADLINE_C,
          warmupMs: 0,
          measureMs: ms,
          maxRequests: 20_000,
        });
        return r.cpuMs === undefined ? undefined : { cpuMs: r.cpuMs, units: r.requests - r.errors };
      },
    );
    if (line) progress(`warm-up: ${line}`);
  }
  progress('warmed up');

  // --perf: the first process of each group, recorded from here to the end of the rounds; only
  // samples inside its own measured windows are counted.
  const perfPids = new Map<number, string>(
    opts.perf
      ? [
          [nodeProxies[0]!.proc.pid, 'node-proxy'],
          ...(floors[0] ? [[floors[0].proc.pid, 'node-floor'] as const] : []),
          ...rungGroups.map((g) => [g.members[0]!.proc.pid, g.name] as const),
          [shenma.pid!, 'shenma'],
        ]
      : [],
  );
  const perf = opts.perf ? await startPerf(join(tmp, 'perf.data')) : undefined;

  const results = new Map<PhaseKey, Map<string, PhaseResult[]>>();
  const add = (key: PhaseKey, target: string, r: PhaseResult) => {
    const m = results.get(key) ?? new Map<string, PhaseResult[]>();
    results.set(key, m);
    m.set(target, [...(m.get(target) ?? []), r]);
  };
  const warmupMs = Math.min(400, opts.measureMs);
  /**
   * When each target was under measured load (the part of a phase its CPU and requests are counted
   * over), and in which phase: to cut the CPU profiles to those moments.
   */
  const windows = new Map<string, PerfWindow[]>();
  const windowsOf = (name: string): Window[] => (windows.get(name) ?? []).map((w) => [w.from, w.to]);
  const measure = async (key: PhaseKey, t: Target, phase: Parameters<typeof runPhase>[1]) => {
    const r = await runPhase(t, phase);
    const list = windows.get(t.name) ?? [];
    if (r.measured) list.push({ key, from: r.measured.fromUs, to: r.measured.toUs });
    windows.set(t.name, list);
    return r;
  };

  for (let round = 0; round < opts.rounds; round++) {
    // Rotate the order every round so drift (thermal, neighbours) hits every target alike.
    const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
    for (const c of CONCURRENCIES) {
      if (!opts.phases.has(`c${c}`)) continue;
      for (const t of order) {
        await fake.reset();
        const measureMs = c === 1 ? Math.round(opts.measureMs * 1.5) : opts.measureMs;
        add(
          `c${c}`,
          t.name,
          await measure(`c${c}`, t, {
            concurrency: c,
            warmupMs,
            measureMs,
            maxRequests: MAX_REQUESTS_PER_PHASE,
          }),
        );
      }
    }
    for (const t of opts.phases.has('instant') ? order : []) {
      await fake.reset();
      await fake.setDefault(INSTANT);
      add(
        'instant',
        t.name,
        await measure('instant', t, {
          concurrency: THROUGHPUT_CLIENTS,
          warmupMs,
          measureMs: opts.measureMs,
          maxRequests: MAX_REQUESTS_PER_PHASE,
        }),
      );
    }
    await fake.reset();
    const s = results.get(`c${HEADLINE_C}`);
    const p50 = (n: string) => fmt(percentile(s?.get(n)?.at(-1)?.latencies ?? [], 50));
    progress(
      `round ${round + 1}/${opts.rounds} done (${((Date.now() - started) / 1000).toFixed(0)} s); c=${HEADLINE_C} p50: ${targets.map((t) => `${t.name} ${p50(t.name)}`).join(', ')}`,
    );
  }

  await fake.reset();
  await perf?.stop();
  const breakdown = opts.phases.has('breakdown') ? await shenmaBreakdown(byName('shenma')!) : undefined;
  const directC1 = percentile(
    (results.get('c1')?.get('direct') ?? []).flatMap((r) => r.latencies),
    50,
  );

  const aborts = new Map<string, AbortSample[]>();
  if (opts.phases.has('abort')) {
    for (const t of targets) aborts.set(t.name, await abortCost(t, fake));
    progress('abort test done');
  }

  const shenmaHwm = memMiB(shenma.pid, 'VmHWM');
  const shenmaRss = memMiB(shenma.pid, 'VmRSS');
  const deployedHwm = deployed ? memMiB(deployed.child.pid, 'VmHWM') : undefined;
  const nodeHwm = memMiB(nodeProxies[0]!.proc.pid, 'VmHWM');
  const nginxHwm = nginx
    ? Math.max(...processTree(nginx.child.pid).map((p) => memMiB(p, 'VmHWM') ?? 0))
    : undefined;

  await Promise.all(targets.map((t) => t.pool.close()));
  await stopAll();

  // ---- Report ----
  const roundsOf = (key: PhaseKey, name: string) => results.get(key)?.get(name) ?? [];
  const medianOf = (key: PhaseKey, name: string, f: (r: PhaseResult) => number) =>
    median(roundsOf(key, name).map(f));
  const p = (q: number) => (r: PhaseResult) => percentile(r.latencies, q);
  /**
   * CPU ms per request over all rounds together: /proc counts in clock ticks (10 ms), so a ratio
   * of sums is steadier than a median of per-round ratios when a phase has few requests (c=1).
   */
  const cpuPerReqOver = (keys: Iterable<PhaseKey>, name: string) => {
    const list = [...keys].flatMap((key) => roundsOf(key, name));
    const cpu = list.reduce((s, r) => s + (r.cpuMs ?? Number.NaN), 0);
    const n = list.reduce((s, r) => s + r.requests, 0);
    return n > 0 ? cpu / n : Number.NaN;
  };
  const cpuPerReqOf = (key: PhaseKey, name: string) => cpuPerReqOver([key], name);
  const rps = (r: PhaseResult) => (r.requests * 1000) / r.durationMs;
  const proxyNames = nodeProxies.map((x) => x.name);
  const processes = ['shenma', ...siblings.map((x) => x.name)];
  /** A group of processes' CPU per request (this build's, or the bare proxy's): their median. */
  const groupCpuOf = (key: PhaseKey, names: readonly string[]) =>
    median(names.map((n) => cpuPerReqOf(key, n)));
  /** Per round, target minus direct at the same quantile; then the median over rounds. */
  const addedPerRound = (key: PhaseKey, name: string, q: number) => {
    const mine = roundsOf(key, name);
    const base = roundsOf(key, 'direct');
    return mine.map((r, i) => percentile(r.latencies, q) - percentile(base[i]?.latencies ?? [], q));
  };
  const warnings: string[] = [];
  for (const [key, m] of results) {
    for (const [name, list] of m) {
      const errors = list.reduce((s, r) => s + r.errors, 0);
      if (errors > 0)
        warnings.push(
          `${key} ${name}: ${errors} failed requests, e.g. ${list.find((r) => r.firstError)?.firstError}`,
        );
    }
  }

  log();
  log(
    `Latency (ms, client-side, whole answer read) — median over ${opts.rounds} round(s); "added" = target − direct, per round`,
  );
  for (const c of CONCURRENCIES) {
    const key: PhaseKey = `c${c}`;
    if (!opts.phases.has(key)) continue;
    log();
    log(`c=${c}`);
    log(
      table(
        ['target', 'p50', 'p99', 'added p50', 'added p99', 'CPU ms/req', 'req/s', 'requests'],
        targets.map((t) => [
          t.name,
          fmt(medianOf(key, t.name, p(50)), 2),
          fmt(medianOf(key, t.name, p(99)), 2),
          t.name === 'direct' ? '—' : signed(median(addedPerRound(key, t.name, 50)), 2),
          t.name === 'direct' ? '—' : signed(median(addedPerRound(key, t.name, 99)), 2),
          fmt(cpuPerReqOf(key, t.name), 3),
          fmt(medianOf(key, t.name, rps), 0),
          String(roundsOf(key, t.name).reduce((s, r) => s + r.requests, 0)),
        ]),
      ),
    );
  }

  log();
  log(
    `Throughput, instant model (ttft 0, one chunk), ${THROUGHPUT_CLIENTS} closed-loop clients — median over rounds`,
  );
  const nodeInstantCpu = groupCpuOf('instant', proxyNames);
  log(
    table(
      [
        'target',
        'req/s',
        'p50',
        'p99',
        'CPU ms/req',
        proxyNames.length > 1 ? 'CPU vs node-proxies' : 'CPU vs node-proxy',
      ],
      targets.map((t) => {
        const cpu = cpuPerReqOf('instant', t.name);
        return [
          t.name,
          fmt(medianOf('instant', t.name, rps), 0),
          fmt(medianOf('instant', t.name, p(50)), 2),
          fmt(medianOf('instant', t.name, p(99)), 2),
          fmt(cpu, 3),
          Number.isFinite(cpu) ? `${fmt(cpu / nodeInstantCpu, 2)}×` : '—',
        ];
      }),
    ),
  );

  if (breakdown) {
    log();
    log(
      `Where Shenma's time goes (c=1, ${DIAGNOSTIC_REQUESTS} sequential requests with \`verbose\`, Shenma's own timings; medians in ms):\n` +
        `  client latency ${fmt(breakdown.client, 2)} (direct p50 at c=1: ${fmt(directC1, 2)}); engine total ${fmt(breakdown.engineTotal, 2)} ` +
        `(queue ${fmt(breakdown.queue, 2)}, prompt build ${fmt(breakdown.prompt, 2)}, first token at ${fmt(breakdown.firstToken, 2)} vs scripted ${FAKE_TTFT_MS}); ` +
        `client − engine ${fmt(breakdown.outside, 2)} (HTTP, body parsing and validation, auth, reply)`,
    );
  }

  if (opts.phases.has('abort')) {
    log();
    log(
      `Abort mid-stream (fake: ${SLOW.chunks!.length} chunks ${SLOW_INTERVAL_MS} ms apart; client aborts ${ABORT_AFTER_MS} ms after sending), ${ABORTS_PER_TARGET} requests per target`,
    );
    log(
      table(
        [
          'target',
          'upstream closed',
          'close delay p50 / max ms',
          'chunks after abort max',
          'after upstream close (sum)',
        ],
        targets.map((t) => {
          const s = aborts.get(t.name) ?? [];
          const delays = s.map((x) => x.closeDelayMs);
          return [
            t.name,
            `${s.filter((x) => x.closed).length}/${s.length}`,
            `${fmt(median(delays), 1)} / ${fmt(Math.max(...delays.filter(Number.isFinite)), 1)}`,
            String(Math.max(0, ...s.map((x) => x.afterAbort))),
            String(s.reduce((sum, x) => sum + (Number.isFinite(x.afterClose) ? x.afterClose : 0), 0)),
          ];
        }),
      ),
    );
  }

  log();
  log(
    `Memory: Shenma peak RSS (VmHWM) ${fmt(shenmaHwm, 0)} MiB (already ${fmt(shenmaIdleHwm, 0)} MiB after start-up, before load; ` +
      `RSS idle ${fmt(shenmaIdleRss, 0)} → end ${fmt(shenmaRss, 0)} MiB); node-proxy peak ${fmt(nodeHwm, 0)} MiB` +
      (nginxHwm !== undefined ? `; nginx process peak ${fmt(nginxHwm, 0)} MiB` : ''),
  );
  if (deployed)
    log(
      `shenma-pg (PostgreSQL + Redis, no embedded database): peak RSS ${fmt(deployedHwm, 0)} MiB; start-up ${(deployed.readyMs / 1000).toFixed(1)} s`,
    );
  log(`Shenma start-up (spawn → listening, fresh data dir): ${(shenmaReadyMs / 1000).toFixed(1)} s`);

  if (opts.profile) {
    const prof = summariseProfile(profileDir, windowsOf('shenma'));
    log();
    if (!prof) {
      log('CPU profile: none written (Shenma did not exit cleanly on SIGTERM?)');
    } else {
      log(
        `Shenma CPU profile (its measured phases only; busy ${fmt(prof.totalMs - prof.idleMs, 0)} ms of ${fmt(prof.totalMs, 0)} ms) — NOTE: profiling slows Shenma, its numbers above are skewed`,
      );
      const rows = (list: Hotspot[]) => list.map((h) => [h.name, fmt(h.ms, 0), `${fmt(h.share * 100, 1)}%`]);
      log(table(['self time by layer of the request path', 'ms', 'of busy'], rows(prof.layers)));
      log();
      log(table(['time by owner (nearest own or dependency frame)', 'ms', 'of busy'], rows(prof.owners)));
      log();
      log(table(['self time by module', 'ms', 'of busy'], rows(prof.modules.slice(0, 15))));
      log();
      log(table(['self time by function', 'ms', 'of busy'], rows(prof.functions)));
      const kept = keepProfile(profileDir, prof, 'shenma-completion');
      log(`  whole profile (start-up and every phase) kept at ${kept}`);
    }
  }

  if (rungGroups.length > 0) {
    // Each rung adds one of Shenma's layers to the one above it (bench/lib/ladder-proxy.ts).
    const ladder = [
      { name: 'node-floor', members: floors.map((f) => f.name) },
      ...rungGroups.map((g) => ({ name: g.name, members: g.members.map((m) => m.name) })),
      { name: 'shenma', members: processes },
    ].filter((g) => g.members.length > 0);
    // A rung as several processes is their median, as the verdicts take this build's and the bare proxy's.
    const cpuAt = (key: PhaseKey, g: (typeof ladder)[number]) =>
      opts.phases.has(key) ? groupCpuOf(key, g.members) : Number.NaN;
    const hkey: PhaseKey = `c${HEADLINE_C}`;
    const nodeC = opts.phases.has(hkey) ? groupCpuOf(hkey, proxyNames) : Number.NaN;
    const each = ladderProcesses > 1 ? `, each rung the median of its ${ladderProcesses} processes` : '';
    log();
    log(
      `The ladder: what each of Shenma's layers costs (CPU ms per request, all rounds${each}; "step" = this rung minus the one above)`,
    );
    log(
      table(
        ['rung', `c=${HEADLINE_C}`, 'step', '× bare proxy', 'instant', 'step', '× bare proxy'],
        ladder.map((g, i) => {
          const prev = ladder[i - 1];
          const c = cpuAt(hkey, g);
          const inst = cpuAt('instant', g);
          return [
            g.name,
            fmt(c, 3),
            prev ? signed(c - cpuAt(hkey, prev), 3) : '—',
            fmt(c / nodeC, 2),
            fmt(inst, 3),
            prev ? signed(inst - cpuAt('instant', prev), 3) : '—',
            fmt(inst / nodeInstantCpu, 2),
          ];
        }),
      ),
    );
    log(
      "  rung-fastify: the floor in a Fastify app set up as Shenma's; rung-client: + Shenma's model client and the family's FIM template; " +
        'rung-engine: + the completion engine; shenma: + credentials, access log, HTTP metrics, usage ledger (the whole server)',
    );
    // Profiled: the first process of each rung, and this build's first.
    if (opts.profile) ladderByOwner(ladder.filter((g) => g.name !== 'node-floor').map((g) => g.name));
  }

  /**
   * The ladder's steps by owner, every rung and Shenma profiled over their measured phases: each
   * owner's share of the process's busy time × its CPU per request (all measured phases together),
   * so the columns are µs per request and a step is the difference of two columns.
   */
  function ladderByOwner(names: string[]) {
    const perRequestUs = (name: string) => cpuPerReqOver(results.keys(), name) * 1000;
    const columns: { name: string; us: Map<string, number> }[] = [];
    for (const name of names) {
      const prof = summariseProfile(name === 'shenma' ? profileDir : rungProfileDir(name), windowsOf(name));
      if (!prof) {
        log(`  by owner: no profile from ${name} (it did not exit cleanly)`);
        return;
      }
      // Kept like Shenma's, so a step can be followed down to functions in a viewer.
      if (name !== 'shenma')
        log(
          `  ${name}'s whole profile kept at ${keepProfile(rungProfileDir(name), prof, `shenma-completion-${name}`)}`,
        );
      const each = perRequestUs(name);
      columns.push({ name, us: new Map(prof.owners.map((h) => [h.name, h.share * each])) });
    }
    const steps = columns.slice(1).map((c, i) => ({ from: columns[i]!, to: c }));
    const owners = [...new Set(columns.flatMap((c) => [...c.us.keys()]))];
    const at = (c: (typeof columns)[number], o: string) => c.us.get(o) ?? 0;
    const spread = (o: string) => at(columns.at(-1)!, o) - at(columns[0]!, o);
    log();
    log(
      'The ladder by owner (every rung profiled, so all slower; µs per request over every measured phase; ' +
        'sorted by what the whole ladder adds)',
    );
    log(
      table(
        [
          'owner',
          ...columns.map((c) => c.name),
          ...steps.map((s) => `${s.from.name.replace('rung-', '')}→${s.to.name.replace('rung-', '')}`),
        ],
        [
          ...owners
            .filter((o) => Math.max(...columns.map((c) => at(c, o))) >= 2)
            .sort((x, y) => spread(y) - spread(x))
            .map((o) => [
              o,
              ...columns.map((c) => fmt(at(c, o), 1)),
              ...steps.map((s) => signed(at(s.to, o) - at(s.from, o), 1)),
            ]),
          [
            'all (CPU per request)',
            ...columns.map((c) => fmt(perRequestUs(c.name), 0)),
            ...steps.map((s) => signed(perRequestUs(s.to.name) - perRequestUs(s.from.name), 0)),
          ],
        ],
      ),
    );
  }

  if (perf) await perfByOwner(perf.file);

  /** --perf: per phase, each recorded process's CPU per request split by owner (bench/lib/perf.ts). */
  async function perfByOwner(file: string) {
    const counts = await perfOwnerCounts(file, perfPids, windows);
    const names = [...perfPids.values()];
    for (const key of ['c1', 'c16', 'c64', 'instant'] as const) {
      if (!opts.phases.has(key)) continue;
      const columns = names.map((name) => ({
        name,
        units: roundsOf(key, name).reduce((sum, r) => sum + r.requests, 0),
        procUs: cpuPerReqOf(key, name) * 1000,
        samples: counts.get(name)?.get(key),
      }));
      log();
      log(perfTableTitle(key === 'instant' ? 'instant model' : `c=${key.slice(1)}`, 'request'));
      log(table(['owner', ...names], perfOwnerRows(columns, 'request', fmt)));
    }
  }

  // ---- Targets ----
  log();
  log('Targets');
  const verdict = (ok: boolean | undefined) =>
    ok === undefined ? '[skipped]' : ok ? '[met]    ' : '[NOT MET]';
  const hk: PhaseKey = `c${HEADLINE_C}`;
  // The latency verdicts read one process of this build: the one with the median CPU per request.
  // The CPU verdicts divide the median of this build's processes by the median of the bare proxy's.
  const pickKey: PhaseKey = opts.phases.has(hk) ? hk : 'instant';
  const judged = medianItem(processes, (n) => cpuPerReqOf(pickKey, n)) ?? 'shenma';
  const listGroup = (what: string, names: readonly string[], use: string) => {
    if (names.length < 2) return;
    const at = pickKey === 'instant' ? 'the instant model' : `c=${HEADLINE_C}`;
    log(
      `          ${what} as ${names.length} processes, CPU per request at ${at}: ` +
        `${names.map((n) => `${n} ${fmt(cpuPerReqOf(pickKey, n), 3)} ms`).join(', ')}; ${use}`,
    );
  };
  listGroup('this build', processes, `the latency verdicts below use ${judged} (the median)`);
  listGroup('the bare proxy', proxyNames, 'the CPU verdicts divide medians');
  // The bare proxy's process with the median CPU, for the latency rows' reference line below.
  const proxyJudged = medianItem(proxyNames, (n) => cpuPerReqOf(pickKey, n)) ?? 'node-proxy';
  // Issue #10: the p50 Shenma adds beyond nginx's, ≤ 1 ms at c=16 and ≤ 3 ms at c=64.
  for (const [c, limit] of [
    [HEADLINE_C, 1],
    [64, 3],
  ] as const) {
    const key: PhaseKey = `c${c}`;
    if (!opts.phases.has(key)) continue;
    if (!byName('nginx')) {
      log(`${verdict(undefined)} Shenma added p50 − nginx added p50 at c=${c} ≤ ${limit} ms: nginx absent`);
      continue;
    }
    const overNginx = (name: string) =>
      roundsOf(key, name).map((r, i) => {
        const n = roundsOf(key, 'nginx')[i];
        return n ? percentile(r.latencies, 50) - percentile(n.latencies, 50) : Number.NaN;
      });
    const perRound = overNginx(judged);
    const d = median(perRound);
    log(
      `${verdict(d <= limit)} Shenma added p50 − nginx added p50 at c=${c} ≤ ${limit} ms: ${signed(d, 2)} ms (per round: ${perRound.map((v) => signed(v, 2)).join(', ')})`,
    );
    // Whether the line is within Node's reach on this machine at all: a Node server that only
    // forwards bytes, judged the same way. Where it is over too, the row measures the machine.
    log(
      `          the bare Node proxy (${proxyJudged}) on the same measure: ${againstLine(overNginx(proxyJudged), limit)}`,
    );
  }
  const sc = groupCpuOf(hk, processes);
  const nc = groupCpuOf(hk, proxyNames);
  const si = groupCpuOf('instant', processes);
  log(
    `${verdict(opts.phases.has(hk) ? sc / nc <= 1.5 : undefined)} Shenma CPU per request ≤ 1.5× bare Node proxy at c=${HEADLINE_C}: ${fmt(sc, 3)} vs ${fmt(nc, 3)} ms = ${fmt(sc / nc, 2)}× ` +
      `(instant model: ${fmt(si, 3)} vs ${fmt(nodeInstantCpu, 3)} ms = ${fmt(si / nodeInstantCpu, 2)}×)`,
  );
  if (opts.phases.has('instant')) {
    // Issue #10: with an instant model (pure overhead), Shenma's CPU per request at most 2× the bare proxy's.
    log(
      `${verdict(si / nodeInstantCpu <= 2)} Shenma CPU per request with an instant model ≤ 2× bare Node proxy (${THROUGHPUT_CLIENTS} clients): ` +
        `${fmt(si, 3)} vs ${fmt(nodeInstantCpu, 3)} ms = ${fmt(si / nodeInstantCpu, 2)}×`,
    );
    // Issue #10: with an instant model (pure overhead), Shenma's throughput at least 0.75× the bare proxy's.
    const groupRps = (names: readonly string[]) => median(names.map((n) => medianOf('instant', n, rps)));
    const sr = groupRps(processes);
    const nr = groupRps(proxyNames);
    log(
      `${verdict(sr / nr >= 0.75)} Shenma throughput with an instant model ≥ 0.75× bare Node proxy's (${THROUGHPUT_CLIENTS} clients): ` +
        `${fmt(sr, 0)} vs ${fmt(nr, 0)} req/s = ${fmt(sr / nr, 2)}×`,
    );
  }
  if (floors.length > 0) {
    const floorNames = floors.map((f) => f.name);
    const fc = groupCpuOf(hk, floorNames);
    const fi = groupCpuOf('instant', floorNames);
    log(
      `          floor: node-floor${floorNames.length > 1 ? ` (median of ${floorNames.length})` : ''} CPU per request ${fmt(fc, 3)} ms = ${fmt(fc / nc, 2)}× the bare proxy at c=${HEADLINE_C} ` +
        `(instant model: ${fmt(fi, 3)} ms = ${fmt(fi / nodeInstantCpu, 2)}×); shenma vs node-floor: ${fmt(sc / fc, 2)}× at c=${HEADLINE_C}, ${fmt(si / fi, 2)}× instant`,
    );
  }
  for (const [name, members] of comparedGroups) {
    const group = members.map((x) => x.name);
    const cc = groupCpuOf(hk, group);
    const ci = groupCpuOf('instant', group);
    const each =
      group.length > 1
        ? ` (c=${HEADLINE_C}: ${group.map((n) => fmt(cpuPerReqOf(hk, n), 3)).join(', ')}; median)`
        : '';
    log(
      `          compared: ${name} CPU per request ${fmt(cc, 3)} ms${each} = ${fmt(cc / nc, 2)}× at c=${HEADLINE_C} ` +
        `(instant model: ${fmt(ci, 3)} ms = ${fmt(ci / nodeInstantCpu, 2)}×); this build vs ${name}: ${fmt(sc / cc, 2)}× at c=${HEADLINE_C}, ${fmt(si / ci, 2)}× instant`,
    );
  }
  const sa = aborts.get('shenma') ?? [];
  const worst = Math.max(0, ...sa.map((x) => x.afterAbort));
  const afterClose = sa.reduce((sum, x) => sum + (Number.isFinite(x.afterClose) ? x.afterClose : 0), 0);
  const allClosed = sa.every((x) => x.closed);
  log(
    `${verdict(opts.phases.has('abort') ? allClosed && worst <= 1 : undefined)} Shenma abort: chunks the model wrote after the client aborted ≤ 1: max ${worst} per request ` +
      `(upstream closed ${sa.filter((x) => x.closed).length}/${sa.length}, median ${fmt(median(sa.map((x) => x.closeDelayMs)), 1)} ms after the abort; ${afterClose} written after the fake saw the close)`,
  );
  const shenmaErrors = [...results.values()].reduce(
    (sum, m) => sum + processes.reduce((p, n) => p + (m.get(n) ?? []).reduce((s, r) => s + r.errors, 0), 0),
    0,
  );
  log(`${verdict(shenmaErrors === 0)} Shenma answered every measured request: ${shenmaErrors} failed`);

  if (warnings.length > 0) {
    log();
    log('Warnings');
    for (const w of warnings) log(`  ${w}`);
  }
  log();
  log(
    `done in ${((Date.now() - started) / 1000).toFixed(0)} s; load average now ${os.loadavg()[0]!.toFixed(2)} (a busy machine inflates every column; compare ratios, rerun if it is high)`,
  );
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    if (isStopping()) return; // the signal handler is already cleaning up and will exit
    process.stderr.write(`\nbench failed: ${err instanceof Error ? err.message : String(err)}\n`);
    await stopAll();
    process.exit(1);
  },
);
