import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, openSync, rmSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { onExit } from './proc.js';
import { ownerOf } from './profile.js';

/**
 * CPU time by owner from Linux `perf` (`bench:completion -- --perf`): what each process's
 * requests cost on the CPU, kernel included.
 *
 * Why not only V8's profiler (`--profile`): it samples on a wall-clock timer and charges a sample
 * to whatever the thread was doing when it ran again. A socket write that wakes the process on
 * the other end of the loopback is often preempted inside the system call, so the write collects
 * the time the peer ran: in one c=16 run V8's profile put 31 % of Shenma's busy time in `writev`,
 * where perf's CPU clock, which only ticks while the thread runs, put 4.5 %. perf also sees the
 * kernel's part of reads and epoll, and the process's other threads (GC helpers, the compiler).
 *
 * Node processes are started with {@link PERF_NODE_FLAGS} so that perf can name JavaScript
 * frames (V8 writes /tmp/perf-<pid>.map). A code address can be reused after its code is freed,
 * and perf then names the old function: a few percent of samples can be charged to a stale name.
 */

/** Node flags for a process whose JavaScript frames perf should name (V8 writes its code addresses). */
export const PERF_NODE_FLAGS = ['--perf-basic-prof-only-functions'];

/** Nanoseconds of CPU time per sample: one sample every 0.5 ms a thread runs. */
export const PERF_PERIOD_NS = 500_000;

/** Why `perf` cannot record here, or undefined when it can. */
export function perfUnavailable(): string | undefined {
  const probe = spawnSync(
    'perf',
    ['record', '-a', '-e', 'cpu-clock', '-k', 'CLOCK_MONOTONIC', '-o', '/dev/null', '--', 'true'],
    {
      encoding: 'utf8',
    },
  );
  if (probe.error) return 'the `perf` command is not installed (Debian: apt-get install linux-perf)';
  if (probe.status !== 0)
    return `\`perf record\` failed (${probe.stderr.trim().split('\n').at(-1)}); system-wide recording needs root or kernel.perf_event_paranoid ≤ 0`;
  return undefined;
}

/**
 * For a bench's `--perf`: throws, naming the reason, when perf cannot record here; otherwise the
 * Node flags for a process by its row name, given the row name of its group's first process
 * (the one recorded). Without `--perf`, no flags for anyone.
 */
export function perfFlagsFor(enabled: boolean): (name: string, first: string) => string[] {
  const missing = enabled ? perfUnavailable() : undefined;
  if (missing) throw new Error(`--perf: ${missing}`);
  return (name, first) => (enabled && name === first ? PERF_NODE_FLAGS : []);
}

/** Both profilers at once would measure each other: V8's sampler slows the processes perf records. */
export function refuseBothProfilers(profile: boolean | undefined, perf: boolean | undefined): void {
  if (profile && perf)
    throw new Error("--profile and --perf: choose one (V8's profiler slows the processes perf measures)");
}

/** The heading of an owner table ({@link perfOwnerRows}): `what` is measured, in µs per `unit`. */
export function perfTableTitle(what: string, unit: string): string {
  return (
    `CPU per ${unit} by owner, ${what} (Linux perf, CPU clock, one sample per ${PERF_PERIOD_NS / 1000} µs of CPU; ` +
    `µs per ${unit}, each group's first process; kernel rows are the system calls themselves, user-space time ` +
    'goes to the nearest own or dependency frame)'
  );
}

export interface PerfRecording {
  file: string;
  /** Stops recording and waits until perf has written its file. */
  stop(): Promise<void>;
}

/**
 * Records every CPU on the CPU clock, stamped with CLOCK_MONOTONIC (as monotonicUs);
 * {@link perfOwnerCounts} keeps the processes asked for. System-wide on purpose: recording chosen
 * processes (`-p`) makes the kernel switch perf's events at every context switch of theirs, and a
 * proxy that sleeps and wakes for every chunk then paid up to 40 % more CPU per request, where
 * system-wide recording cost the recorded processes 7–8 %, about what two processes of one build
 * differ by.
 *
 * perf starts with its events off and settles once it has acknowledged turning them on (its
 * control FIFOs, beside `file`): from then on every sample is in the file.
 */
export async function startPerf(file: string): Promise<PerfRecording> {
  const ctlPath = join(dirname(file), 'perf-control.fifo');
  const ackPath = join(dirname(file), 'perf-ack.fifo');
  const made = spawnSync('mkfifo', [ctlPath, ackPath], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`mkfifo: ${made.stderr || made.error?.message}`);
  const child: ChildProcess = spawn(
    'perf',
    [
      'record',
      '-e',
      'cpu-clock',
      '-c',
      String(PERF_PERIOD_NS),
      '-g',
      '-k',
      'CLOCK_MONOTONIC',
      '-a',
      '-D',
      '-1',
      '--control',
      `fifo:${ctlPath},${ackPath}`,
      '-o',
      file,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // A system-wide recording outlives every process it watches: a benchmark that fails or is
  // interrupted must not leave it writing.
  onExit(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  // Both FIFOs opened read-write, so neither open waits for perf to open its end; the ack side is
  // read through a socket so that a perf that dies leaves nothing blocked.
  const ctl = openSync(ctlPath, 'r+');
  const ack = new Socket({ fd: openSync(ackPath, constants.O_RDWR | constants.O_NONBLOCK), readable: true });
  const release = () => {
    ack.destroy();
    closeSync(ctl);
  };
  try {
    await Promise.race([
      new Promise<void>((resolve) => {
        ack.once('data', () => resolve());
        writeSync(ctl, 'enable\n');
      }),
      exited.then((code) => {
        throw new Error(`perf record exited at once (${code}): ${stderr.trim()}`);
      }),
    ]);
  } catch (err) {
    release();
    throw err;
  }
  return {
    file,
    async stop() {
      child.kill('SIGINT');
      const code = await exited;
      release();
      if (code !== 0 && code !== null) throw new Error(`perf record exited with ${code}: ${stderr.trim()}`);
    },
  };
}

/** A stretch of a process's measured load, in monotonicUs, and the phase it belonged to. */
export interface PerfWindow {
  key: string;
  from: number;
  to: number;
}

/** One frame of a sample's call chain as `perf script` prints it. */
export interface PerfFrame {
  sym: string;
  dso: string;
}

const KERNEL = '[kernel.kallsyms]';

/**
 * Who a sample's CPU time belongs to. Kernel time is kept apart by what the thread asked the
 * kernel for (socket writes, reads, epoll), since no user code changes what one system call
 * costs; time in user space goes to the nearest frame, from the leaf up, that is Shenma's code or
 * a dependency's (the names {@link ownerOf} gives a V8 profile), so JSON.parse, Buffer and Node's
 * streams are charged to the code that called them.
 */
export function sampleOwner(frames: readonly PerfFrame[], mainThread: boolean): string {
  if (!mainThread) return otherThreadOwner(frames);
  const leaf = frames[0];
  if (!leaf) return 'unknown';
  if (leaf.dso === KERNEL) {
    const entry = frames.findIndex((f) => f.sym === 'do_syscall_64' || f.sym.startsWith('entry_SYSCALL'));
    if (entry < 0) return 'kernel: interrupts, page faults, scheduling';
    const inKernel = frames.slice(0, entry).map((f) => f.sym);
    if (inKernel.some((s) => /writev|sys_write|sendmsg|sendto/.test(s))) return 'kernel: socket writes';
    if (inKernel.some((s) => /epoll/.test(s))) return 'kernel: epoll (event loop wait and wake-up)';
    if (inKernel.some((s) => /sys_read|ksys_read|readv|recvmsg|recvfrom/.test(s)))
      return 'kernel: socket reads';
    return 'kernel: other system calls';
  }
  let sawJs = false;
  for (const f of frames) {
    const js = jsFrame(f.sym);
    if (!js) {
      // Native frames below the first JavaScript frame: the collector runs on allocation.
      if (!sawJs && /Heap::|Scaveng|MarkCompact|GCTracer|Sweeper|CollectGarbage/.test(f.sym))
        return 'garbage collector';
      continue;
    }
    sawJs = true;
    // A module's top-level code (anonymous, at 1:1) runs once, at start-up: under load, that name
    // is a stale one for code that later took its address.
    if (js.functionName === '' && js.lineNumber === 0 && js.columnNumber === 0) continue;
    const owner = ownerOf(js);
    if (owner) return owner.startsWith('/') ? `bench ${owner.replace(/^.*\/bench\//, '')}` : owner;
  }
  return sawJs
    ? 'Node core (JavaScript: streams, events, net, timers)'
    : 'Node and libuv native (no JavaScript on the stack)';
}

/** What a thread other than the event loop's was doing: V8's helpers, or libuv's pool. */
function otherThreadOwner(frames: readonly PerfFrame[]): string {
  const syms = frames.map((f) => f.sym);
  const any = (re: RegExp) => syms.some((s) => re.test(s));
  if (any(/compiler::|Compiler|Maglev|Turbofan|OptimizingCompileDispatcher/))
    return 'other threads: JIT compiler';
  if (any(/Scaveng|Marking|Sweep|Evacuat|Heap::|ArrayBufferSweeper|MinorMC|Compactor/))
    return 'other threads: GC helpers';
  if (any(/^worker$|^uv__work/)) return 'other threads: libuv pool';
  return 'other threads: other';
}

/** `JS:*name file:///a/b.js:12:5` (V8's perf map) as a V8 call frame; undefined for other symbols. */
export function jsFrame(
  sym: string,
): { functionName: string; url: string; lineNumber: number; columnNumber: number } | undefined {
  const m = /^JS:[*~^+]?(.*?) ?((?:file:\/\/|node:|\/)\S*?):(\d+):(\d+)$/.exec(sym);
  if (!m) return undefined;
  // Zero-based, as in V8's own profiles.
  return {
    functionName: m[1] ?? '',
    url: m[2]!,
    lineNumber: Number(m[3]) - 1,
    columnNumber: Number(m[4]) - 1,
  };
}

/** Parses one frame line of `perf script -F pid,tid,time,ip,sym,dso`. */
export function parseFrame(line: string): PerfFrame | undefined {
  const m = /^\s*[0-9a-f]+ (.*) \(([^()]*)\)$/.exec(line);
  if (!m) return undefined;
  return { sym: m[1]!, dso: m[2]! };
}

/** Samples of one process in one phase: how many, and how many each owner had. */
export interface PhaseSamples {
  samples: number;
  owners: Map<string, number>;
}

/**
 * Reads a recording and counts, per process name and phase, the samples taken inside that
 * process's windows, by owner. Samples outside every window (warm-up, other targets' turns) are
 * dropped. Deletes the perf map files of `pids` afterwards.
 */
export async function perfOwnerCounts(
  file: string,
  pids: ReadonlyMap<number, string>,
  windows: ReadonlyMap<string, readonly PerfWindow[]>,
): Promise<Map<string, Map<string, PhaseSamples>>> {
  const out = new Map<string, Map<string, PhaseSamples>>();
  const script = spawn(
    'perf',
    ['script', '-F', 'pid,tid,time,ip,sym,dso', '--pid', [...pids.keys()].join(','), '-i', file],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const exited = new Promise<number | null>((resolve) => script.on('exit', (code) => resolve(code)));
  let header: { name: string; key: string; main: boolean } | undefined;
  let skip = false;
  let frames: PerfFrame[] = [];
  const flush = () => {
    if (header && !skip) {
      const byKey = out.get(header.name) ?? new Map<string, PhaseSamples>();
      out.set(header.name, byKey);
      const phase = byKey.get(header.key) ?? { samples: 0, owners: new Map<string, number>() };
      byKey.set(header.key, phase);
      phase.samples++;
      const owner = sampleOwner(frames, header.main);
      phase.owners.set(owner, (phase.owners.get(owner) ?? 0) + 1);
    }
    header = undefined;
    frames = [];
  };
  for await (const line of createInterface({ input: script.stdout! })) {
    const h = /^\s*(\d+)\/(\d+)\s+(\d+\.\d+):/.exec(line);
    if (h) {
      flush();
      const name = pids.get(Number(h[1]));
      const at = Math.round(Number(h[3]) * 1e6);
      const window = name ? windows.get(name)?.find((w) => at >= w.from && at <= w.to) : undefined;
      skip = !name || !window;
      header = { name: name ?? '', key: window?.key ?? '', main: h[1] === h[2] };
      continue;
    }
    if (!header || skip) continue;
    const frame = parseFrame(line);
    if (frame) frames.push(frame);
  }
  flush();
  const code = await exited;
  for (const pid of pids.keys()) rmSync(`/tmp/perf-${pid}.map`, { force: true });
  if (code !== 0) throw new Error(`perf script exited with ${code}`);
  return out;
}

/** One recorded process in a phase, for {@link perfOwnerRows}. */
export interface PerfColumn {
  name: string;
  /** What the phase's windows delivered: requests, or chunks. */
  units: number;
  /** CPU µs per unit from /proc over the same windows (the verdicts' figure). */
  procUs: number;
  samples: PhaseSamples | undefined;
}

/**
 * The rows of an owner table: µs of CPU per unit for every owner that reaches 1 µs in some column
 * (an owner's samples × the CPU time one sample stands for ÷ the units), sorted by the last column,
 * then the rest, perf's total and /proc's beside it, and the sample counts. perf's sampling costs
 * the process CPU that no sample shows, which is why /proc's figure is printed too.
 */
export function perfOwnerRows(
  columns: readonly PerfColumn[],
  unit: string,
  fmt: (n: number, d: number) => string,
) {
  const usPerSample = PERF_PERIOD_NS / 1000;
  const per = columns.map((c) => {
    const us = new Map<string, number>();
    for (const [owner, n] of c.samples?.owners ?? []) us.set(owner, (n * usPerSample) / c.units);
    return { ...c, us, perfUs: ((c.samples?.samples ?? 0) * usPerSample) / c.units };
  });
  const owners = [...new Set(per.flatMap((c) => [...c.us.keys()]))];
  const at = (c: (typeof per)[number], o: string) => c.us.get(o) ?? 0;
  const last = per.at(-1)!;
  const shown = owners
    .filter((o) => Math.max(...per.map((c) => at(c, o))) >= 1)
    .sort((x, y) => at(last, y) - at(last, x));
  const rest = (c: (typeof per)[number]) =>
    owners.filter((o) => !shown.includes(o)).reduce((sum, o) => sum + at(c, o), 0);
  return [
    ...shown.map((o) => [o, ...per.map((c) => fmt(at(c, o), 1))]),
    ['everything else (< 1 µs each)', ...per.map((c) => fmt(rest(c), 1))],
    [`all that perf saw (µs per ${unit})`, ...per.map((c) => fmt(c.perfUs, 0))],
    [`CPU per ${unit} from /proc (perf running)`, ...per.map((c) => fmt(c.procUs, 0))],
    ['samples in the measured windows', ...per.map((c) => String(c.samples?.samples ?? 0))],
  ];
}
