import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per module
 * (npm package, Shenma source directory, or Node internals), so hot spots show without a viewer.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Hotspot {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  idleMs: number;
  functions: Hotspot[];
  modules: Hotspot[];
  /**
   * Total (self + callees) time of each function, counted once per sample however deep it recurses:
   * which stage of a request the time goes to. Frames outside the app's code (Node internals, V8,
   * dependencies) are left out unless `inclusiveFilter` keeps them.
   */
  inclusive: Hotspot[];
  /** Self time by layer of the request path (see {@link layerOf}): every sample in one row. */
  layers: Hotspot[];
  /**
   * Every sample charged to the nearest frame, from the leaf up, that is Shenma's code or a
   * dependency's (see {@link ownerOf}): which part of the server asked for the work, including the
   * Node and V8 builtins it called (JSON, Buffer, socket writes). Samples with no such frame keep
   * their layer. Garbage collection has no stack and stays its own row.
   */
  owners: Hotspot[];
}

/**
 * The part of the program a frame belongs to when it is Shenma's code (`Shenma completion/prompt`,
 * `Shenma models`) or a dependency (`undici`, `fastify`); undefined for Node's own modules, V8
 * builtins and the special buckets, whose time belongs to whoever called them.
 */
export function ownerOf(frame: CallFrame): string | undefined {
  const m = moduleOf(frame);
  const own = /^shenma dist\/(.+)\/[^/]+$/.exec(m);
  if (own) return `Shenma ${own[1]}`;
  if (m.startsWith('shenma dist/')) return `Shenma ${m.slice('shenma dist/'.length)}`;
  // Node's modules, and V8's buckets: '(native/V8)' and the special frames, which moduleOf names by themselves.
  if (m.startsWith('node:') || m.startsWith('(')) return undefined;
  return m;
}

const KERNEL_WRITES = new Set([
  'writev',
  'writeUtf8String',
  'writeBuffer',
  'writeLatin1String',
  'writeAsciiString',
]);

/**
 * Which layer of a proxied request a frame belongs to. JSON.parse and JSON.stringify are V8
 * builtins whose time lands on their caller's frame, so the body parser's and the upstream
 * request's JSON show up under "request body parsing" and Shenma's models/ code.
 */
export function layerOf(frame: CallFrame): string {
  const name = frame.functionName;
  if (name === '(garbage collector)') return 'garbage collector';
  if (name === '(program)') return 'V8 (program: compiler, IC misses)';
  if (frame.url === '' && KERNEL_WRITES.has(name)) return 'socket writes (the system calls)';
  const m = moduleOf(frame);
  if (
    /^(fastify|find-my-way|avvio|light-my-request|@fastify\/|fast-json-stringify|fast-querystring|fast-uri|toad-cache|process-warning|rfdc)/.test(
      m,
    ) ||
    /^node:_http_(server|incoming|outgoing|common)$/.test(m)
  )
    return 'HTTP server (node:http + Fastify)';
  if (m === 'secure-json-parse' || m === 'shenma dist/http/json-body.js')
    return 'request body parsing (JSON.parse, checks)';
  if (m === 'undici' || m === 'node:_http_client') return 'HTTP client to the model (undici)';
  if (m === 'eventsource-parser') return 'SSE decoding (eventsource-parser)';
  if (m === 'zod' || m.startsWith('zod')) return 'validation (zod)';
  if (
    m === 'prom-client' ||
    m === 'pino' ||
    m.startsWith('pino') ||
    m === 'sonic-boom' ||
    m === 'thread-stream'
  )
    return 'metrics and logs (prom-client, pino)';
  if (m === 'pg' || m.startsWith('pg-') || m === 'kysely' || m === 'ioredis' || m === 'postgres-array')
    return 'database and Redis clients';
  const own = /^shenma dist\/([^/]+)\//.exec(m);
  if (own) return `Shenma ${own[1]}/`;
  if (m.startsWith('node:') || m === 'node:internal')
    return 'Node core (streams, events, net, timers, buffers)';
  if (m === '(native/V8)') return 'other native/V8 builtins';
  return `other: ${m}`;
}

/** Default filter for {@link ProfileSummary.inclusive}: Shenma's own built code. */
const SHENMA_FRAME = /\/dist\//;

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** node_modules/<pkg>, dist/<dir>/<file> (Shenma), node:<module>, or the special V8 buckets. */
function moduleOf(frame: CallFrame): string {
  if (SPECIAL.has(frame.functionName)) return frame.functionName;
  const url = frame.url;
  if (url === '') return '(native/V8)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return url.replace(/^node:internal\/.*/, 'node:internal');
  const dist = /\/dist\/(.+)$/.exec(url);
  if (dist) return `shenma dist/${dist[1]}`;
  // The ladder's rungs run Shenma's TypeScript source under tsx: named as its built file would be.
  const src = /\/src\/(.+)\.ts$/.exec(url);
  if (src) return `shenma dist/${src[1]}.js`;
  return url.replace(/^file:\/\//, '');
}

function shortUrl(url: string): string {
  const nm = /node_modules\/(.+)$/.exec(url);
  if (nm) return nm[1]!;
  const dist = /\/(dist\/.+)$/.exec(url);
  if (dist) return dist[1]!;
  return url.replace(/^file:\/\//, '');
}

/** Microseconds on CLOCK_MONOTONIC: the clock V8 stamps profile samples with, in any process. */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/**
 * Copies a summarised profile out of the run's scratch directory into the system's temp
 * directory, for a viewer (Chrome DevTools, speedscope) and for call trees; returns its path.
 */
export function keepProfile(dir: string, summary: ProfileSummary, name: string): string {
  const kept = join(tmpdir(), `${name}-${Date.now()}.cpuprofile`);
  copyFileSync(join(dir, summary.file), kept);
  return kept;
}

/** A time window in {@link monotonicUs}; only samples inside one of them count. */
export type Window = [startUs: number, endUs: number];

export function summariseProfile(
  dir: string,
  windows: Window[],
  top = 20,
  inclusiveFilter: RegExp = SHENMA_FRAME,
): ProfileSummary | undefined {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return undefined;
  }
  // Node names each thread's profile CPU.<date>.<time>.<pid>.<thread>.<seq>: a process run with
  // `--import tsx` writes one for its module loader thread too. The main thread is thread 0.
  const mainThread = files.filter((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  const file = (mainThread.length > 0 ? mainThread : files).sort().at(-1);
  if (!file) return undefined;
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const inWindow = (t: number) => windows.length === 0 || windows.some(([a, b]) => t >= a && t <= b);
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (inWindow(t)) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  const layer = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    total += us;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const key = SPECIAL.has(frame.functionName)
      ? frame.functionName
      : `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const m = moduleOf(frame);
    mod.set(m, (mod.get(m) ?? 0) + us);
    const l = layerOf(frame);
    layer.set(l, (layer.get(l) ?? 0) + us);
  }
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const incl = new Map<string, number>();
  for (const [id, us] of selfUs) {
    if (byId.get(id)?.callFrame.functionName === '(idle)') continue;
    const seen = new Set<string>();
    // Bounded by the tree's depth: every step goes to a parent, and the root has none.
    for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) {
      const frame = byId.get(cur)?.callFrame;
      if (!frame || !inclusiveFilter.test(frame.url) || /node_modules/.test(frame.url)) continue;
      const key = `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + us);
    }
  }
  const owner = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const leaf = byId.get(id)?.callFrame;
    if (!leaf || leaf.functionName === '(idle)') continue;
    let name: string | undefined;
    for (let cur: number | undefined = id; cur !== undefined && name === undefined; cur = parentOf.get(cur)) {
      const frame = byId.get(cur)?.callFrame;
      if (frame) name = ownerOf(frame);
    }
    const key = name ?? layerOf(leaf);
    owner.set(key, (owner.get(key) ?? 0) + us);
  }
  const busy = total - idle;
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: busy > 0 ? us / busy : 0 }));
  return {
    file,
    totalMs: total / 1000,
    idleMs: idle / 1000,
    functions: rank(fn),
    modules: rank(mod),
    inclusive: rank(incl),
    layers: [...layer.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, ms: us / 1000, share: busy > 0 ? us / busy : 0 })),
    owners: rank(owner),
  };
}
