import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { shebangNodeFlags } from '../../src/server/node-flags.js';
import { type Child, freePort, spawnChild, waitExit } from './proc.js';

/** Starting Shenma for a benchmark: a credential first, then `node bin/shenma.js start`. */

export interface ShenmaProcess {
  child: Child;
  url: string;
  /** Spawn → listening, ms. */
  readyMs: number;
  /** The API token of user `bench`, or undefined when this build has no identity store. */
  token: string | undefined;
  /** The preloaded event-loop delay probe (bench/lib/loop-delay.mjs), when asked for. */
  loopDelayUrl?: string;
}

export interface StartShenmaOptions {
  name: string;
  root: string;
  /** The whole YAML config; `database:`/`redis:` included for the deployed shape. */
  config: string;
  dir: string;
  databaseUrl?: string;
  cpus?: string;
  profileDir?: string;
  /** More Node flags, after the ones the tree's bin/shenma.js asks for. */
  nodeArgs?: string[];
  /** Preload bench/lib/loop-delay.mjs and serve the event-loop delay on a port of its own. */
  loopDelay?: boolean;
  /** With `loopDelay`: the probe also traces where each request's time to its first write goes. */
  traceFirstToken?: boolean;
}

export async function startShenma(o: StartShenmaOptions): Promise<ShenmaProcess> {
  const dataDir = join(o.dir, 'data');
  mkdirSync(o.dir, { recursive: true });
  // Run as root, the embedded PostgreSQL server runs as shenma-db, which must pass through the
  // benchmark's 0700 mkdtemp directory to reach the data directory.
  chmodSync(dirname(o.dir), 0o711);
  // A credential for the user routes, created before Shenma opens the database (the embedded
  // database belongs to one process at a time).
  const { child: provision, match: provisioned } = await spawnChild({
    name: `${o.name} provision`,
    command: process.execPath,
    args: [
      '--import',
      'tsx',
      'bench/lib/provision.ts',
      '--data-dir',
      dataDir,
      ...(o.databaseUrl ? ['--database-url', o.databaseUrl] : []),
    ],
    cwd: o.root,
    ready: /^(?:TOKEN (\S+)|NOAUTH)$/,
    readyTimeoutMs: 300_000,
  });
  const code = await waitExit(provision, 30_000);
  if (code !== 0) throw new Error(`${o.name} provision exited with ${code}:\n${provision.tail()}`);
  const token = provisioned?.[1];

  const configFile = join(o.dir, 'shenma.yaml');
  writeFileSync(configFile, o.config);
  const loopDelayPort = o.loopDelay ? await freePort() : undefined;
  const started = Date.now();
  const port = await freePort();
  const { child } = await spawnChild({
    name: o.name,
    command: process.execPath,
    args: [
      ...nodeFlagsOf(o.root),
      ...(o.nodeArgs ?? []),
      ...(o.profileDir ? ['--cpu-prof', '--cpu-prof-dir', o.profileDir] : []),
      ...(loopDelayPort ? ['--import', './bench/lib/loop-delay.mjs'] : []),
      'bin/shenma.js',
      'start',
      '--config',
      configFile,
      '--data-dir',
      dataDir,
      '--port',
      String(port),
    ],
    cwd: o.root,
    ...(o.cpus ? { cpus: o.cpus } : {}),
    ...(loopDelayPort
      ? {
          env: {
            BENCH_LOOP_DELAY_PORT: String(loopDelayPort),
            ...(o.traceFirstToken ? { BENCH_FIRST_TOKEN_TRACE: '1' } : {}),
          },
        }
      : {}),
  });
  // Ready when /healthz says ok: the bench logs at warn, so the "listening" line (info) is not printed,
  // and while the embedded database is created /healthz answers "starting".
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, child, 120_000);
  return {
    child,
    url,
    readyMs: Date.now() - started,
    token,
    ...(loopDelayPort ? { loopDelayUrl: `http://127.0.0.1:${loopDelayPort}` } : {}),
  };
}

/**
 * `processes` processes of one kind (`--processes N`): rows `<base>`, `<base>-2` … `<base>-N`, each
 * started by `start` with its row name. Two processes of one build settle into CPU costs 5–9 %
 * apart, and the bare proxy varies as much, so the benches run Shenma and the bare Node proxy as N
 * processes each and judge with their medians.
 */
export async function startGroup<T>(
  base: string,
  processes: number,
  start: (name: string) => Promise<T>,
  describe: (proc: T) => string,
  progress: (line: string) => void,
): Promise<{ name: string; proc: T }[]> {
  const group: { name: string; proc: T }[] = [];
  for (let i = 1; i <= processes; i++) {
    const name = i === 1 ? base : `${base}-${i}`;
    const proc = await start(name);
    group.push({ name, proc });
    progress(`${name} ${describe(proc)}`);
  }
  return group;
}

/**
 * The Node flags a tree's `bin/shenma.js` asks for in its shebang (`#!/usr/bin/env -S node FLAGS`):
 * the benchmark runs each Shenma as `npx shenma` would, with the same Node as itself.
 */
export function nodeFlagsOf(root: string): string[] {
  const first = readFileSync(join(root, 'bin', 'shenma.js'), 'utf8').split('\n', 1)[0] ?? '';
  return shebangNodeFlags(first) ?? [];
}

async function waitHealthy(url: string, child: Child, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
      throw new Error(`${child.name}: exited before ready; output:\n${child.tail()}`);
    }
    try {
      const body = (await (await fetch(`${url}/healthz`)).json()) as { status?: string };
      if (body.status === 'ok') return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline)
      throw new Error(`${child.name}: not ready after ${timeoutMs} ms; output:\n${child.tail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
  mean: number;
  /** `--trace-first-token`: per segment, ms (see bench/lib/loop-delay.mjs). */
  firstToken?: FirstTokenTrace;
}

export type Spread = { p50: number; p90: number; p99: number };
export const FIRST_TOKEN_SEGMENTS = ['own', 'undici', 'model', 'reply', 'turn'] as const;
export type FirstTokenTrace = { streams: number } & Record<(typeof FIRST_TOKEN_SEGMENTS)[number], Spread>;

/** Clears the probe's histogram (start of a measured phase). */
export async function resetLoopDelay(url: string | undefined): Promise<void> {
  if (url) await fetch(`${url}/reset`).then((r) => r.arrayBuffer());
}

/** Event-loop delay since the last reset, ms. */
export async function readLoopDelay(url: string | undefined): Promise<LoopDelay | undefined> {
  if (!url) return undefined;
  return (await (await fetch(url)).json()) as LoopDelay;
}
