import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Pool } from 'undici';
import { cpuMsOfTree, processTree, sleep } from './proc.js';
import { monotonicUs } from './profile.js';

/**
 * Chat load for `bench/chat.ts`: clients POST `/v1/chat/completions` with `stream: true` and read
 * the SSE answer, timing the first `data:` event that carries content (time to first token), the
 * whole stream, and counting content chunks. Two shapes: a closed loop at a fixed concurrency
 * (latency and CPU), and many long streams held open at once (memory per stream).
 */

export const CHAT_PATH = '/v1/chat/completions';

export interface ChatTarget {
  name: string;
  url: string;
  /** Process whose CPU and memory (with its direct children) is charged to this target; none for direct. */
  pid?: number;
  /** Extra request headers (Shenma's credential). */
  headers?: Record<string, string>;
  pool: Pool;
}

const SYSTEM = 'You are a helpful coding assistant. Answer concisely, with code where it helps.';
const QUESTION =
  'In TypeScript on Node 20, how do I read a large newline-delimited JSON file line by line without ' +
  'loading it all into memory, skip malformed lines with a warning, and stop early once I have found ' +
  'the first 100 records whose "status" field is "active"? Please show the whole function, explain ' +
  'how backpressure works with readline and async iterators, and mention what happens to the file ' +
  'descriptor when I break out of the loop early.';

/** What every chat client sends (the same bytes each time: chat has no cache to defeat). */
export function chatRequestBody(model: string): string {
  return JSON.stringify({
    model,
    stream: true,
    temperature: 0.2,
    messages: [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: QUESTION },
    ],
  });
}

export interface StreamSample {
  /** ms from sending the request to the first `data:` event whose delta has non-empty content. */
  ttftMs: number;
  /** ms from sending the request to the end of the stream (after `[DONE]`). */
  totalMs: number;
  /** `data:` events whose `choices[0].delta.content` is a non-empty string. */
  chunks: number;
  /** The content concatenated, only when asked for. */
  text?: string;
}

export interface SendOptions {
  /** The stream must carry exactly this many content chunks, or the request counts as failed. */
  expectedChunks?: number;
  collectText?: boolean;
  onFirstToken?: () => void;
  signal?: AbortSignal;
}

interface ChatEventJson {
  choices?: { delta?: { content?: unknown } }[];
  error?: { message?: string };
}

/** One streamed chat request, read to `[DONE]`; throws on anything but a complete, well-formed answer. */
export async function sendChat(
  target: ChatTarget,
  body: string,
  opts: SendOptions = {},
): Promise<StreamSample> {
  const t0 = performance.now();
  const res = await target.pool.request({
    method: 'POST',
    path: CHAT_PATH,
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...target.headers },
    body,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (res.statusCode !== 200) {
    const text = await res.body.text();
    throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
  }
  res.body.setEncoding('utf8');
  let buf = '';
  let ttftMs = Number.NaN;
  let chunks = 0;
  let done = false;
  let text = '';
  const onEvent = (event: string) => {
    for (const line of event.split('\n')) {
      if (!line.startsWith('data:')) continue; // comments (`: keep-alive`), ids, blank lines
      const payload = line.slice(line.startsWith('data: ') ? 6 : 5);
      if (payload === '[DONE]') {
        done = true;
        continue;
      }
      const json = JSON.parse(payload) as ChatEventJson;
      if (json.error) throw new Error(`error event: ${json.error.message ?? JSON.stringify(json.error)}`);
      const content = json.choices?.[0]?.delta?.content;
      if (typeof content !== 'string' || content === '') continue;
      if (chunks === 0) {
        ttftMs = performance.now() - t0;
        opts.onFirstToken?.();
      }
      chunks++;
      if (opts.collectText) text += content;
    }
  };
  for await (const piece of res.body as AsyncIterable<string>) {
    buf += piece;
    let end = buf.indexOf('\n\n');
    while (end !== -1) {
      const event = buf.slice(0, end);
      buf = buf.slice(end + 2);
      onEvent(event);
      end = buf.indexOf('\n\n');
    }
  }
  if (buf.trim() !== '') onEvent(buf);
  const totalMs = performance.now() - t0;
  if (!done) throw new Error(`stream ended without [DONE] after ${chunks} content chunks`);
  if (opts.expectedChunks !== undefined && chunks !== opts.expectedChunks)
    throw new Error(`stream carried ${chunks} content chunks, expected ${opts.expectedChunks}`);
  return { ttftMs, totalMs, chunks, ...(opts.collectText ? { text } : {}) };
}

/** utime and stime of a process tree in clock ticks: compare before/after a phase. */
export function cpuTicksOfTree(pid: number): { user: number; sys: number } {
  let user = 0;
  let sys = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      // Fields after the command name: state is the 1st, utime the 12th, stime the 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      user += Number(fields[11]);
      sys += Number(fields[12]);
    } catch {
      // Gone.
    }
  }
  return { user, sys };
}

/** Read and write system calls (`syscr`, `syscw` of /proc/<pid>/io) of a process and its direct children. */
export function syscallsOfTree(pid: number): { reads: number; writes: number } {
  let reads = 0;
  let writes = 0;
  for (const p of processTree(pid)) {
    try {
      const io = readFileSync(`/proc/${p}/io`, 'utf8');
      reads += Number(/^syscr:\s+(\d+)/m.exec(io)?.[1] ?? Number.NaN);
      writes += Number(/^syscw:\s+(\d+)/m.exec(io)?.[1] ?? Number.NaN);
    } catch {
      // Gone, or not ours to read.
    }
  }
  return { reads, writes };
}

export interface ChatPhaseResult {
  ttfts: number[];
  totals: number[];
  /** Requests started (successful or not). */
  requests: number;
  /** Content chunks received by successful requests. */
  chunks: number;
  errors: number;
  firstError?: string;
  durationMs: number;
  /** CPU ms the target's process tree used during the measured phase; undefined without a process. */
  cpuMs?: number;
  /** Read / write system calls the target's process tree made during the measured phase. */
  syscalls?: { reads: number; writes: number };
  /** Share of `cpuMs` spent in the kernel (stime): socket reads and writes, loopback delivery, epoll. */
  sysShare?: number;
  /** CPU ms of the load generator (this process) and of the fake model during the measured phase. */
  loadgenCpuMs?: number;
  fakeCpuMs?: number;
  /** When the measured part ran (after the warm-up), in monotonic µs: to cut CPU profiles to it. */
  measured?: { fromUs: number; toUs: number };
}

async function loop(
  target: ChatTarget,
  body: string,
  clients: number,
  durationMs: number,
  maxRequests: number,
  expectedChunks: number,
  record: boolean,
): Promise<ChatPhaseResult> {
  const ttfts: number[] = [];
  const totals: number[] = [];
  let requests = 0;
  let chunks = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const deadline = start + durationMs;
  const client = async () => {
    // Bounded twice: by the phase's deadline and by the shared request budget.
    while (performance.now() < deadline && requests < maxRequests) {
      requests++;
      try {
        const s = await sendChat(target, body, { expectedChunks });
        chunks += s.chunks;
        if (record) {
          ttfts.push(s.ttftMs);
          totals.push(s.totalMs);
        }
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
        // Do not spin on a dead target.
        await sleep(10);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return {
    ttfts,
    totals,
    requests,
    chunks,
    errors,
    ...(firstError ? { firstError } : {}),
    durationMs: performance.now() - start,
  };
}

export interface ChatPhaseOptions {
  concurrency: number;
  warmupMs: number;
  measureMs: number;
  maxRequests: number;
  expectedChunks: number;
  /** The fake model's pid, to report how busy it was (the machine's cores are shared). */
  fakePid?: number;
}

/**
 * Warm-up (discarded), then the measured closed loop with the target's CPU read before and after.
 * Every request of the measured loop has finished when it returns, so the CPU window holds exactly
 * the work of the measured requests (and whatever the process does in the background).
 */
export async function runChatPhase(
  target: ChatTarget,
  body: string,
  opts: ChatPhaseOptions,
): Promise<ChatPhaseResult> {
  const { concurrency, warmupMs, measureMs, maxRequests, expectedChunks, fakePid } = opts;
  if (warmupMs > 0) await loop(target, body, concurrency, warmupMs, maxRequests, expectedChunks, false);
  const cpu0 = target.pid ? cpuMsOfTree(target.pid) : 0;
  const io0 = target.pid ? syscallsOfTree(target.pid) : undefined;
  const ticks0 = target.pid ? cpuTicksOfTree(target.pid) : undefined;
  const fake0 = fakePid ? cpuMsOfTree(fakePid) : 0;
  const self0 = process.cpuUsage();
  const fromUs = monotonicUs();
  const result = await loop(target, body, concurrency, measureMs, maxRequests, expectedChunks, true);
  result.measured = { fromUs, toUs: monotonicUs() };
  const self = process.cpuUsage(self0);
  result.loadgenCpuMs = (self.user + self.system) / 1000;
  if (fakePid) result.fakeCpuMs = cpuMsOfTree(fakePid) - fake0;
  if (target.pid && io0) {
    result.cpuMs = cpuMsOfTree(target.pid) - cpu0;
    const io1 = syscallsOfTree(target.pid);
    result.syscalls = { reads: io1.reads - io0.reads, writes: io1.writes - io0.writes };
    const ticks1 = cpuTicksOfTree(target.pid);
    const user = ticks1.user - (ticks0?.user ?? 0);
    const sys = ticks1.sys - (ticks0?.sys ?? 0);
    result.sysShare = user + sys > 0 ? sys / (user + sys) : Number.NaN;
  }
  return result;
}

export interface HoldOptions {
  streams: number;
  /** Requests are started evenly over this time, so no listen backlog overflows. */
  rampMs: number;
  expectedChunks: number;
  /** Longest wait for every stream to have its first token. */
  openTimeoutMs: number;
  /** Pause once all streams are open, before sampling. */
  settleMs: number;
  sampleMs: number;
  /** Longest wait for every stream to end after sampling. */
  finishTimeoutMs: number;
  /** The measured value (e.g. RSS in MiB), read every 200 ms while all streams are open. */
  sample: () => number | undefined;
}

export interface HoldResult {
  streams: number;
  /** Streams that had their first token when sampling started (should be all of them). */
  openAtSampling: number;
  /** Streams still open when sampling ended (should be all of them: none ended early). */
  openAfterSampling: number;
  /** ms from the first request to every stream having its first token. */
  allOpenMs: number;
  samples: number[];
  completed: number;
  errors: number;
  firstError?: string;
  ttfts: number[];
}

/**
 * Opens `streams` long streams through one target, ramped, waits until every one of them has its
 * first token, samples while they are all open, then waits for them to finish and checks them.
 */
export async function holdStreams(target: ChatTarget, body: string, opts: HoldOptions): Promise<HoldResult> {
  let firstTokens = 0;
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  const ttfts: number[] = [];
  const all: Promise<void>[] = [];
  const t0 = performance.now();
  const ticks = Math.max(1, Math.round(opts.rampMs / 10));
  const perTick = Math.ceil(opts.streams / ticks);
  for (let started = 0; started < opts.streams; ) {
    const n = Math.min(perTick, opts.streams - started);
    for (let k = 0; k < n; k++) {
      all.push(
        sendChat(target, body, {
          expectedChunks: opts.expectedChunks,
          onFirstToken: () => firstTokens++,
        }).then(
          (s) => {
            completed++;
            ttfts.push(s.ttftMs);
          },
          (err: unknown) => {
            errors++;
            firstError ??= err instanceof Error ? err.message : String(err);
          },
        ),
      );
    }
    started += n;
    await sleep(10);
  }
  const openBy = performance.now() + opts.openTimeoutMs;
  while (firstTokens + errors < opts.streams && performance.now() < openBy) await sleep(50);
  const allOpenMs = performance.now() - t0;
  await sleep(opts.settleMs);
  const openAtSampling = firstTokens - completed;
  const samples: number[] = [];
  const sampleEnd = performance.now() + opts.sampleMs;
  while (performance.now() < sampleEnd) {
    const v = opts.sample();
    if (v !== undefined) samples.push(v);
    await sleep(200);
  }
  const openAfterSampling = firstTokens - completed;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(all),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, opts.finishTimeoutMs);
    }),
  ]);
  clearTimeout(timer);
  const unfinished = opts.streams - completed - errors;
  if (unfinished > 0) {
    errors += unfinished;
    firstError ??= `${unfinished} streams still open ${opts.finishTimeoutMs} ms after sampling`;
  }
  return {
    streams: opts.streams,
    openAtSampling,
    openAfterSampling,
    allOpenMs,
    samples,
    completed,
    errors,
    ...(firstError ? { firstError } : {}),
    ttfts,
  };
}
