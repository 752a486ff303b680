import { statfs } from 'node:fs/promises';
import { createServer } from 'node:net';
import { envReferences } from '../config/load.js';
import type { ShenmaConfig } from '../config/schema.js';
import type { ComposeFile } from './compose.js';
import type { DockerRunner } from './docker.js';

/**
 * Checks before anything starts, measured where it matters: CPU and memory as the Docker engine
 * sees them (not the host), the engine and Compose v2 versions, the published ports free (or
 * held by this very stack, on a re-run), disk space, the engine's clock, the NVIDIA runtime.
 */

export class PreflightError extends Error {
  override readonly name = 'PreflightError';
}

export interface PreflightReport {
  engine: string;
  compose: string;
  warnings: string[];
}

/** Compose >= 2.20: `depends_on.required`, `up --wait` with healthchecks, profiles in .env. */
const MIN_COMPOSE: [number, number] = [2, 20];
const MIN_FREE_DISK = 10 * 1024 ** 3;
const MAX_CLOCK_SKEW_MS = 60_000;

function bytes(size: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg])$/i.exec(size)!;
  return Number(m[1]) * 1024 ** ('kmg'.indexOf(m[2]!.toLowerCase()) + 1);
}

async function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/**
 * The variables the containers' shenma.yaml requires (${NAME}, no fallback) that neither the
 * generated credentials (`provided`) nor this environment hold. Compose passes them from the
 * environment `shenma up` runs in; unset, every Shenma container would stop at its config.
 */
export function unsetReferences(
  containerConfig: string,
  provided: Iterable<string>,
  env: NodeJS.ProcessEnv,
): string[] {
  const have = new Set(provided);
  return envReferences(containerConfig)
    .filter((r) => !r.optional && !have.has(r.name) && !env[r.name])
    .map((r) => r.name);
}

export async function preflight(
  docker: DockerRunner,
  config: ShenmaConfig,
  compose: ComposeFile,
  now: () => number = Date.now,
): Promise<PreflightReport> {
  const warnings: string[] = [];
  const info = await docker
    .docker(['info', '--format', '{{json .}}'], { what: 'docker info' })
    .catch((err: Error) => {
      throw new PreflightError(
        `the Docker engine is not reachable (${err.message}); start it, or check that this user may use it (docker group)`,
      );
    });
  const engine = JSON.parse(info.stdout) as {
    ServerVersion?: string;
    NCPU?: number;
    MemTotal?: number;
    SystemTime?: string;
    Runtimes?: Record<string, unknown>;
  };
  const composeVersion = (
    await docker.docker(['compose', 'version', '--short'], { allowFailure: true })
  ).stdout.trim();
  const m = /^v?(\d+)\.(\d+)/.exec(composeVersion);
  if (!m)
    throw new PreflightError(
      'Docker Compose v2 is missing (`docker compose version` failed); install the compose plugin',
    );
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major < MIN_COMPOSE[0] || (major === MIN_COMPOSE[0] && minor < MIN_COMPOSE[1]))
    throw new PreflightError(
      `Docker Compose ${composeVersion} is too old; ${MIN_COMPOSE.join('.')} or newer is needed`,
    );

  const running = Object.entries(compose.services).filter(
    ([, s]) => !s.profiles || s.profiles.every((p) => isEnabled(p, config)),
  );
  const needMem = running.reduce((sum, [name, s]) => sum + bytes(s.mem_limit) * replicasOf(name, s), 0);
  const cpus = engine.NCPU ?? 0;
  if (cpus < 2) throw new PreflightError(`Docker sees ${cpus} CPU(s); the stack needs at least 2`);
  if (cpus < 4) warnings.push(`Docker sees ${cpus} CPUs; 4 or more are recommended`);
  const mem = engine.MemTotal ?? 0;
  const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (mem < needMem / 2)
    throw new PreflightError(
      `Docker sees ${gib(mem)} of memory; the stack's limits add up to ${gib(needMem)} (lower deploy.resources or switch off deploy.ops services)`,
    );
  if (mem < needMem)
    warnings.push(`Docker sees ${gib(mem)} of memory, less than the limits' sum of ${gib(needMem)}`);

  const disk = await statfs(docker.dir).catch(() => undefined);
  if (disk && disk.bavail * disk.bsize < MIN_FREE_DISK)
    warnings.push(
      `only ${gib(disk.bavail * disk.bsize)} free on the disk holding ${docker.dir}; 10 GiB or more is advised`,
    );

  if (engine.SystemTime) {
    const skew = Math.abs(Date.parse(engine.SystemTime) - now());
    if (skew > MAX_CLOCK_SKEW_MS)
      throw new PreflightError(
        `the Docker engine's clock is ${Math.round(skew / 1000)} s away from this machine's; tokens would be rejected (enable NTP)`,
      );
  }
  if (config.deploy.localModels.enabled && !engine.Runtimes?.nvidia)
    throw new PreflightError(
      'deploy.localModels needs the NVIDIA container runtime (nvidia-container-toolkit), which Docker does not list',
    );

  // Ports: free, or already published by this stack (a re-run of up).
  const ours = await publishedByStack(docker);
  for (const [name, s] of Object.entries(compose.services)) {
    for (const spec of s.ports ?? []) {
      const [host, port] = spec.split(':') as [string, string];
      if (ours.has(Number(port))) continue;
      if (!(await portFree(host, Number(port))))
        throw new PreflightError(
          `port ${port} on ${host} (for ${name}) is already in use by another program; stop it or change deploy.ports in shenma.yaml`,
        );
    }
  }
  return { engine: engine.ServerVersion ?? 'unknown', compose: composeVersion, warnings };
}

function isEnabled(profile: string, config: ShenmaConfig): boolean {
  return (config.deploy.ops as Record<string, boolean>)[profile] === true;
}

function replicasOf(_name: string, s: { deploy?: Record<string, unknown> }): number {
  return (s.deploy?.replicas as number | undefined) ?? 1;
}

/** Host ports this compose project's running containers publish. */
async function publishedByStack(docker: DockerRunner): Promise<Set<number>> {
  const res = await docker.compose(['ps', '--format', 'json'], { allowFailure: true });
  const ports = new Set<number>();
  for (const c of parseJsonLines(res.stdout)) {
    for (const p of (c.Publishers as { PublishedPort?: number }[] | undefined) ?? [])
      if (p.PublishedPort) ports.add(p.PublishedPort);
  }
  return ports;
}

/** `docker compose ps --format json` prints one JSON object per line (older v2: one array). */
export function parseJsonLines(text: string): Record<string, unknown>[] {
  const t = text.trim();
  if (t === '') return [];
  if (t.startsWith('[')) return JSON.parse(t) as Record<string, unknown>[];
  return t
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
