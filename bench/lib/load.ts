import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { cpuMsOfTree } from './proc.js';
import { monotonicUs } from './profile.js';
import { type BodyTemplate, newStreamId } from './workload.js';

/**
 * Closed-loop load: N virtual clients, each sending its next request as soon as the previous one
 * has been read to the end. Used for latency at a fixed concurrency and for max throughput; every
 * phase is bounded by time and by request count.
 */

export interface Target {
  name: string;
  url: string;
  path: string;
  body: BodyTemplate;
  /** sse: read the stream to `[DONE]`; json: the extension's one JSON answer. */
  kind: 'sse' | 'json';
  /** Process whose CPU (with its direct children) is charged to this target; none for direct. */
  pid?: number;
  /** Extra request headers (Shenma's credential). */
  headers?: Record<string, string>;
  pool: Pool;
}

export function makePool(url: string, connections: number): Pool {
  return new Pool(url, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 60_000,
    headersTimeout: 15_000,
    bodyTimeout: 15_000,
  });
}

export interface PhaseResult {
  /** Per request, ms from sending to the last byte of the answer, successful requests only. */
  latencies: number[];
  requests: number;
  errors: number;
  firstError?: string;
  durationMs: number;
  /** CPU ms the target's process used during the phase, undefined without a process. */
  cpuMs?: number;
  /** When the measured part ran (after the warm-up), in monotonic µs: to cut CPU profiles to it. */
  measured?: { fromUs: number; toUs: number };
}

let requestCounter = 0;

/** One request, read to the end; throws on anything but a complete, well-formed answer. */
export async function sendOnce(target: Target, stream: string, signal?: AbortSignal): Promise<string> {
  requestCounter++;
  const { statusCode, body } = await target.pool.request({
    method: 'POST',
    path: target.path,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/plain, */*',
      ...target.headers,
    },
    body: target.body.render({ unique: String(requestCounter), stream }),
    ...(signal ? { signal } : {}),
  });
  if (target.kind === 'json') {
    const text = await body.text();
    if (statusCode !== 200) throw new Error(`HTTP ${statusCode}: ${text.slice(0, 300)}`);
    return text;
  }
  let last = '';
  for await (const chunk of body as AsyncIterable<Buffer>) last = chunk.toString('latin1');
  if (statusCode !== 200) throw new Error(`HTTP ${statusCode}: ${last.slice(0, 300)}`);
  if (!last.includes('[DONE]')) throw new Error('stream ended without [DONE]');
  return last;
}

async function loop(
  target: Target,
  clients: number,
  durationMs: number,
  maxRequests: number,
  record: boolean,
): Promise<PhaseResult> {
  const latencies: number[] = [];
  let requests = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const deadline = start + durationMs;
  const client = async () => {
    const stream = newStreamId();
    // Bounded twice: by the phase's deadline and by the shared request budget.
    while (performance.now() < deadline && requests < maxRequests) {
      requests++;
      const t0 = performance.now();
      try {
        await sendOnce(target, stream);
        if (record) latencies.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
        // Do not spin on a dead target.
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return {
    latencies,
    requests,
    errors,
    ...(firstError ? { firstError } : {}),
    durationMs: performance.now() - start,
  };
}

export interface PhaseOptions {
  concurrency: number;
  warmupMs: number;
  measureMs: number;
  maxRequests: number;
}

/** Warm-up (discarded), then the measured phase with the target's CPU read before and after. */
export async function runPhase(target: Target, opts: PhaseOptions): Promise<PhaseResult> {
  if (opts.warmupMs > 0) await loop(target, opts.concurrency, opts.warmupMs, opts.maxRequests, false);
  const cpu0 = target.pid ? cpuMsOfTree(target.pid) : 0;
  const fromUs = monotonicUs();
  const result = await loop(target, opts.concurrency, opts.measureMs, opts.maxRequests, true);
  if (target.pid) result.cpuMs = cpuMsOfTree(target.pid) - cpu0;
  result.measured = { fromUs, toUs: monotonicUs() };
  return result;
}
