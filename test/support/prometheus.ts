import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A real Prometheus server (Debian's package) scraping given targets every second. Without the
 * binary the caller skips and says so; under CI a missing binary is an error.
 */

export function prometheusBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  if (process.env.CI)
    throw new Error('prometheus is not installed, and CI must test against it (.ci/run installs it)');
  return undefined;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

export interface RunningPrometheus {
  url: string;
  /** Polls an instant query until `accept` likes the result or the deadline passes. */
  query(expr: string, accept: (result: PromSample[]) => boolean, timeoutMs?: number): Promise<PromSample[]>;
  stop(): Promise<void>;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export async function startPrometheus(binary: string, targets: string[]): Promise<RunningPrometheus> {
  const dir = mkdtempSync(path.join(tmpdir(), 'shenma-prom-'));
  const port = await freePort();
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: shenma',
      `    static_configs: [ { targets: [${targets.map((t) => `'${t}'`).join(', ')}] } ]`,
    ].join('\n'),
  );
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('prometheus did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async query(expr, accept, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      let last: PromSample[] = [];
      for (;;) {
        const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
        const body = (await res.json()) as {
          status: string;
          data?: { result: PromSample[] };
          error?: string;
        };
        if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`);
        last = body.data!.result;
        if (accept(last)) return last;
        if (Date.now() > until) return last;
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
