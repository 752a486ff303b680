import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * Child processes for the benchmark: spawn, wait for a "ready" line, account their CPU and memory
 * from /proc, and make sure every one of them is gone when the benchmark exits, however it exits.
 */

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** Last lines of stdout+stderr, for error messages. */
  tail(): string;
}

const children = new Set<Child>();

/** Same clock as the fake model's records (epoch ms, sub-millisecond). */
export const epochMs = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function clockTicksPerSecond(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}
const CLK_TCK = clockTicksPerSecond();

/** utime + stime of one process (all its threads), in ms; 0 when the process is gone. */
export function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of the whole line are the 12th and 13th after the name (state is the 1st).
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** The process and its direct children (nginx master + workers). */
export function processTree(pid: number): number[] {
  const pids = [pid];
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    if (kids) pids.push(...kids.split(/\s+/).map(Number));
  } catch {
    // No children file (old kernel) or the process is gone.
  }
  return pids;
}

export function cpuMsOfTree(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + cpuMsOf(p), 0);
}

/** A field of /proc/<pid>/status in MiB (VmHWM = peak RSS, VmRSS = current). */
export function memMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  /** Resolves with the match once a line of output matches; rejects on exit or timeout. */
  ready?: RegExp;
  readyTimeoutMs?: number;
  /** `taskset -c <cpus>` prefix; the pid is still the real process (taskset execs it). */
  cpus?: string;
  /** Added to the environment the child inherits. */
  env?: Record<string, string>;
}

export async function spawnChild(
  opts: SpawnOptions,
): Promise<{ child: Child; match: RegExpExecArray | undefined }> {
  const command = opts.cpus ? 'taskset' : opts.command;
  const args = opts.cpus ? ['-c', opts.cpus, opts.command, ...opts.args] : opts.args;
  const proc = spawn(command, args, {
    cwd: opts.cwd,
    // stdin stays a pipe so a child of ours that watches it (the Node proxy) dies with us even on SIGKILL.
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production', ...opts.env },
  });
  const lines: string[] = [];
  const child: Child = {
    name: opts.name,
    proc,
    pid: proc.pid ?? -1,
    tail: () => lines.slice(-30).join('\n'),
  };
  if (proc.pid === undefined) throw new Error(`${opts.name}: could not spawn ${command}`);
  children.add(child);
  proc.once('exit', () => children.delete(child));

  let onLine: ((line: string) => void) | undefined;
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let buf = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (s: string) => {
      buf += s;
      let nl = buf.indexOf('\n');
      while (nl !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (lines.length > 200) lines.splice(0, 100);
        onLine?.(line);
        nl = buf.indexOf('\n');
      }
    });
  };
  collect(proc.stdout);
  collect(proc.stderr);

  if (!opts.ready) return { child, match: undefined };
  const ready = opts.ready;
  const timeoutMs = opts.readyTimeoutMs ?? 30_000;
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${opts.name}: not ready after ${timeoutMs} ms; output:\n${child.tail()}`));
    }, timeoutMs);
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(
        new Error(
          `${opts.name}: exited (code ${code}, signal ${signal}) before ready; output:\n${child.tail()}`,
        ),
      );
    };
    const cleanup = () => {
      clearTimeout(timer);
      proc.off('exit', onExit);
      onLine = undefined;
    };
    onLine = (line) => {
      const m = ready.exec(line);
      if (m) {
        cleanup();
        resolve(m);
      }
    };
    for (const line of lines) onLine?.(line);
    proc.once('exit', onExit);
  });
  return { child, match };
}

/** Resolves with the exit code once the process has exited (bounded by `timeoutMs`). */
export async function waitExit(child: Child, timeoutMs: number): Promise<number | null> {
  const { proc } = child;
  if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const result = await Promise.race([exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
  if (result === 'timeout')
    throw new Error(`${child.name}: still running after ${timeoutMs} ms; output:\n${child.tail()}`);
  return result;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopChild(child: Child, graceMs = 5000): Promise<void> {
  const { proc } = child;
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const killed = await Promise.race([gone.then(() => true), sleep(graceMs).then(() => false)]);
  if (!killed) {
    proc.kill('SIGKILL');
    await Promise.race([gone, sleep(2000)]);
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c)));
}

/** Last resort on exit: synchronous SIGKILL of whatever is still running. */
function killAllNow() {
  for (const c of children) {
    try {
      c.proc.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

let cleanupHooks: (() => void)[] = [];

/** Runs `fn` once on exit (normal or not); used to remove the temp directory. */
export function onExit(fn: () => void) {
  cleanupHooks.push(fn);
}

function runCleanupHooks() {
  const hooks = cleanupHooks;
  cleanupHooks = [];
  for (const h of hooks) {
    try {
      h();
    } catch {
      // Best effort.
    }
  }
}

let stopping = false;

/** True once a signal asked the benchmark to stop: failures after that are expected. */
export const isStopping = () => stopping;

export function installExitHandlers() {
  process.on('exit', () => {
    killAllNow();
    runCleanupHooks();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      stopping = true;
      process.stderr.write(`\nbench: ${sig}, stopping child processes\n`);
      const hard = setTimeout(() => process.exit(130), 6000);
      hard.unref();
      stopAll().finally(() => process.exit(130));
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(
      `bench: uncaught ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    stopAll().finally(() => process.exit(1));
  });
}
