import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { splitInto } from '../test/fake-model/server.js';
import { summariseProfile } from './lib/profile.js';
import { median } from './lib/stats.js';
import { COMPLETION_TEXT, extensionBody, newStreamId } from './lib/workload.js';

/**
 * `npm run bench:engine [-- name=/path/to/tree ...]`: CPU µs per completion of the completion
 * engine alone, in process, against an instant in-process model backend (no HTTP, no sockets):
 * what the engine, its metrics and its usage metering cost per request. Every request has a new
 * prefix, so each one is a cache miss that streams a short answer which the stop detector cuts at
 * the line break.
 *
 * `--bench-request` measures `bench:completion`'s own request instead: the Zhuge extension's body
 * with an 8.8 KB Python prefix, parsed and validated as the server does, the deepseek-coder
 * template, no cache, the answer streamed in the fake's pieces one event-loop turn apart (as
 * network reads arrive) and 16 requests in flight, as at c=16. What it leaves out is the HTTP on both
 * sides (the server, the model client and the upstream body).
 *
 * It compares source trees (e.g. an old commit checked out with `git worktree add /tmp/old <commit>`
 * and node_modules symlinked): each tree is measured in its own child process, the trees
 * interleaved round by round so a machine that gets busier slows them all alike; the median
 * over rounds is reported. Without arguments it measures this tree. A tree whose engine still
 * took the model group as an argument (before the four-stage engine) is driven the way its
 * handlers drove it, with the same metrics updates they made per request.
 */

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const WARMUP = 4000;
const PER_SAMPLE = 5000;
const SAMPLES = 3;

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** The model's answer in `bench:completion`, in the pieces its fake streams (`--chunks 16`). */
const BENCH_PIECES = splitInto(COMPLETION_TEXT, 16);
const BENCH_IN_FLIGHT = 16;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Child: measures the tree at `root` and prints µs per completion (median of its samples). */
async function child(root: string, benchRequest: boolean): Promise<void> {
  const load = (p: string) => import(pathToFileURL(path.join(root, p)).href);
  const { parseConfig } = await load('src/config/load.ts');
  const { ModelRegistry } = await load('src/models/index.ts');
  const { CompletionEngine } = await load('src/completion/engine.ts');
  const { CompletionCache } = await load('src/completion/cache.ts');
  const { SupersedeRegistry } = await load('src/completion/supersede.ts');
  const { completionMetrics } = await load('src/completion/metrics.ts');
  const usage = await load('src/completion/usage.ts').catch(() => undefined);
  const { Registry } = await import('prom-client');
  const { pino } = await import('pino');

  const config = parseConfig(
    benchRequest
      ? {
          // bench:completion's Shenma (bench/completion.ts, shenmaConfig).
          models: [
            {
              name: 'coder',
              url: 'http://127.0.0.1:9/v1',
              family: 'deepseek-coder',
              roles: ['completion'],
              maxQueue: 256,
            },
          ],
          completion: { cache: { maxEntries: 0 } },
        }
      : {
          models: [
            { name: 'coder', url: 'http://127.0.0.1:9/v1', family: 'qwen2.5-coder', roles: ['completion'] },
          ],
        },
  );
  const backend = {
    async *streamFim() {
      if (benchRequest) {
        for (const piece of BENCH_PIECES) {
          await nextTurn();
          yield piece;
        }
        return;
      }
      yield 'total';
      yield ' = a';
      yield ' + b';
      yield '\n';
      yield '    return total';
    },
    streamChat() {
      throw new Error('not used');
    },
    probe: async () => {},
    close: async () => {},
  };
  const models = new ModelRegistry(config.models, () => backend);
  const metrics = completionMetrics(new Registry());
  const ledger = { record: async () => undefined };
  const meter = usage ? new usage.CompletionMeter(ledger, () => {}) : undefined;
  const engine = new CompletionEngine({
    config: config.completion,
    models,
    cache: new CompletionCache(config.completion.cache.maxEntries, config.completion.cache.ttlMs),
    supersede: new SupersedeRegistry(),
    metrics,
    logCode: false,
    onOutcome: usage
      ? (job: unknown, result: unknown) => {
          const row = usage.completionUsageRecord(job, result);
          if (row) meter.add(row);
        }
      : undefined,
  });
  const log = pino({ level: 'warn' });
  const clientSignal = new AbortController().signal;
  const oldShape = typeof engine.resolveModel === 'function';
  // The server's own parsing of the extension's body, for --bench-request.
  const extension = benchRequest ? await load('src/completion/api/extension-v2.ts') : undefined;
  if (extension && (oldShape || typeof extension.extensionInput !== 'function'))
    throw new Error(`--bench-request needs a tree with the four-stage engine and extensionInput (${root})`);
  const body = benchRequest ? extensionBody() : undefined;
  const stream = newStreamId();
  let n = 0;
  const one = async () => {
    n++;
    if (extension && body) {
      const parsed = extension.extensionV2Body.parse(JSON.parse(body.render({ unique: String(n), stream })));
      const outcome = await engine.complete({
        api: 'v2',
        requestId: `req-${n}`,
        user: { id: 'u1', name: 'bench' },
        input: extension.extensionInput(parsed),
        strictModel: false,
        supersedeKey: `${stream}-${n}`,
        client: { gone: false, onGone: () => () => {} },
        log,
      });
      if (outcome.kind !== 'completed' || outcome.text !== COMPLETION_TEXT)
        throw new Error(`unexpected outcome ${outcome.kind}: ${JSON.stringify(outcome.text)}`);
      return;
    }
    const input = {
      prefix: `import math\n\ndef area_${n}(a, b):\n    `,
      suffix: '\n\nprint(area_1(2, 3))\n',
      language: 'python',
      stop: [],
      snippets: [],
      triggerMode: 'auto',
    };
    const job = {
      api: 'v2',
      requestId: `req-${n}`,
      user: { id: 'u1', name: 'bench' },
      input,
      strictModel: false,
      supersedeKey: 'client-1',
      clientSignal,
      client: { gone: false, onGone: () => () => {} },
      log,
    };
    if (!oldShape) {
      const outcome = await engine.complete(job);
      if (outcome.kind !== 'completed') throw new Error(`unexpected outcome ${outcome.kind}`);
      return;
    }
    // What the old handlers did around the old engine, per request.
    const group = engine.resolveModel(undefined, false);
    const outcome = await engine.complete(job, group);
    if (outcome.kind !== 'completed') throw new Error(`unexpected outcome ${outcome.kind}`);
    metrics.requests.inc({ api: 'v2', status: '200', reason: 'ok' });
    metrics.phaseSeconds.observe({ phase: 'total', model: outcome.model }, outcome.timings.totalMs / 1000);
    metrics.phaseSeconds.observe({ phase: 'queue', model: outcome.model }, outcome.timings.queueMs / 1000);
  };
  // One request at a time, or (--bench-request) as many in flight as at c=16.
  const many = async (count: number) => {
    if (!benchRequest) {
      for (let i = 0; i < count; i++) await one();
      return;
    }
    let started = 0;
    const worker = async () => {
      while (started++ < count) await one();
    };
    await Promise.all(Array.from({ length: BENCH_IN_FLIGHT }, worker));
  };
  await many(WARMUP);
  const profiler = process.env.SHENMA_BENCH_PROFILE ? await startProfiler() : undefined;
  const samples: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t0 = cpuUs();
    await many(PER_SAMPLE);
    samples.push((cpuUs() - t0) / PER_SAMPLE);
  }
  if (profiler) await profiler.stop(process.env.SHENMA_BENCH_PROFILE!);
  await meter?.flush();
  process.stdout.write(`${JSON.stringify({ usPerCompletion: median(samples) })}\n`);
}

/** V8's sampling profiler over the measured samples only (not start-up, not the warm-up). */
async function startProfiler(): Promise<{ stop(file: string): Promise<void> }> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

function parent(trees: { name: string; root: string }[], profile: boolean, benchRequest: boolean): void {
  const self = fileURLToPath(import.meta.url);
  const tsx = path.join(path.dirname(self), '..', 'node_modules', '.bin', 'tsx');
  const perTree = new Map<string, number[]>(trees.map((t) => [t.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of trees) {
      const out = spawnSync(tsx, [self, '--child', t.root, ...childFlags(benchRequest)], {
        encoding: 'utf8',
      });
      if (out.status !== 0) throw new Error(`${t.name}: ${out.stderr}`);
      const { usPerCompletion } = JSON.parse(out.stdout.trim().split('\n').pop()!);
      perTree.get(t.name)!.push(usPerCompletion);
    }
  }
  const base = median(perTree.get(trees[0]!.name)!);
  console.log(
    `CPU µs per completion, median of ${ROUNDS} interleaved rounds (${SAMPLES}×${PER_SAMPLE} each)${benchRequest ? `; bench:completion's request, ${BENCH_PIECES.length} pieces one turn apart, ${BENCH_IN_FLIGHT} in flight` : ''}`,
  );
  for (const t of trees) {
    const xs = perTree.get(t.name)!;
    const m = median(xs);
    console.log(
      `${t.name.padEnd(10)} ${m.toFixed(1).padStart(7)} µs  (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})  ×${(m / base).toFixed(2)} vs ${trees[0]!.name}`,
    );
  }
  // A tree's child processes differ between rounds (JIT, GC, the machine), but two trees in the
  // same round saw the same machine: the median of the per-round ratios is the steadier figure.
  const first = perTree.get(trees[0]!.name)!;
  for (const t of trees.slice(1)) {
    const ratios = perTree.get(t.name)!.map((x, r) => x / first[r]!);
    console.log(
      `${t.name.padEnd(10)} per-round ratio vs ${trees[0]!.name}: median ×${median(ratios).toFixed(2)} (min ×${Math.min(...ratios).toFixed(2)}, max ×${Math.max(...ratios).toFixed(2)})`,
    );
  }
  if (profile) for (const t of trees) profileTree(tsx, self, t, benchRequest);
}

const childFlags = (benchRequest: boolean) => (benchRequest ? ['--bench-request'] : []);

/** One more child per tree under the sampling profiler: self and total time of its hottest functions. */
function profileTree(
  tsx: string,
  self: string,
  t: { name: string; root: string },
  benchRequest: boolean,
): void {
  const dir = mkdtempSync(path.join(tmpdir(), `shenma-engine-${t.name}-`));
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'engine.cpuprofile');
  const out = spawnSync(tsx, [self, '--child', t.root, ...childFlags(benchRequest)], {
    encoding: 'utf8',
    env: { ...process.env, SHENMA_BENCH_PROFILE: file },
  });
  if (out.status !== 0) throw new Error(`${t.name}: ${out.stderr}`);
  const summary = summariseProfile(dir, [], 30, new RegExp(`^file://${t.root}/src/`));
  if (!summary) return;
  const strip = (name: string) => name.replace(`file://${t.root}/`, '').replace(`${t.root}/`, '');
  console.log(`\n${t.name}: profile of the measured samples (${file})`);
  console.log('  self time');
  for (const f of summary.functions)
    console.log(`  ${(f.share * 100).toFixed(1).padStart(5)} %  ${strip(f.name)}`);
  console.log("  total time (self + callees) of the tree's own functions");
  for (const f of summary.inclusive)
    console.log(`  ${(f.share * 100).toFixed(1).padStart(5)} %  ${strip(f.name)}`);
}

const args = process.argv.slice(2);
if (args[0] === '--child') {
  await child(path.resolve(args[1]!), args.includes('--bench-request'));
} else {
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const profile = args.includes('--profile');
  const benchRequest = args.includes('--bench-request');
  const named = args.filter((a) => a !== '--profile' && a !== '--bench-request');
  const trees = named.length
    ? named.map((a) => {
        const [name, root] = a.includes('=') ? a.split('=') : [path.basename(a), a];
        return { name: name!, root: path.resolve(root!) };
      })
    : [{ name: 'this', root: here }];
  parent(trees, profile, benchRequest);
}
