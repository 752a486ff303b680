import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { fmt, median } from './lib/stats.js';

/**
 * `npm run bench:socket-resume`: what keeping the extension's socket chat answers for `rechat`
 * costs per streamed chunk, in the process that generates them: ChatRun with the in-process store
 * (the embedded shape) and, when Redis answers, with the Redis store (several replicas).
 *
 * 100 chats stream at once; each turn of the event loop (or every `--interval-ms`, like a model's
 * pace) adds one chunk to each, until every chat has its answer and `[DONE]`.
 * Reported: CPU µs per chunk of this process (utime + stime), and for Redis, chunks per append
 * (one append is one pipelined round trip; `--window-ms` overrides the store's batch window).
 * `--root DIR` loads ChatRun and the stores from
 * another checkout's src/ (to compare before and after a change).
 */

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    chats: { type: 'string' },
    chunks: { type: 'string' },
    rounds: { type: 'string' },
    redis: { type: 'string' },
    'interval-ms': { type: 'string' },
    'window-ms': { type: 'string' },
  },
});
const root = resolve(values.root ?? join(import.meta.dirname, '..'));
const CHATS = Number(values.chats ?? 100);
const CHUNKS = Number(values.chunks ?? 200);
const ROUNDS = Number(values.rounds ?? 5);
const INTERVAL_MS = Number(values['interval-ms'] ?? 0);
const WINDOW_MS = values['window-ms'] === undefined ? undefined : Number(values['window-ms']);
const REDIS_URL = values.redis ?? process.env.SHENMA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const load = (file: string) => import(pathToFileURL(join(root, 'src/chat/socket', file)).href);
const { ChatRun } = await load('chat-run.ts');
const { MemoryResumeStore } = await load('resume-store.ts');
const redisModule = await load('redis-resume.ts').catch(() => undefined);

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const turn = () => new Promise((r) => (INTERVAL_MS > 0 ? setTimeout(r, INTERVAL_MS) : setImmediate(r)));

interface Store {
  append(...args: unknown[]): Promise<void>;
  batchWindowMs?: number;
}

/** One round: CHATS answers of CHUNKS chunks, interleaved a chunk per chat per event-loop turn. */
async function round(store: Store): Promise<{ usPerChunk: number; appends: number }> {
  let appends = 0;
  const counting: Store = {
    ...(store.batchWindowMs !== undefined ? { batchWindowMs: store.batchWindowMs } : {}),
    append: (...args) => {
      appends++;
      return store.append(...args);
    },
  };
  let emitted = 0;
  const follower = { id: 'f', emit: () => ++emitted > 0 };
  const tag = randomBytes(4).toString('hex');
  const runs = Array.from({ length: CHATS }, (_, i) => {
    const run = new ChatRun(`bench-${tag}-${i}`, 'user-1', counting, silent);
    run.follow(follower, 0);
    return run;
  });
  const start = process.cpuUsage();
  for (let c = 0; c < CHUNKS; c++) {
    for (const run of runs) {
      run.pushJson((offset: number) => ({
        event: 'dify_agent_thought',
        agent_name: 'Shenma',
        agent_icon: null,
        dify_chunk: { event: 'message', answer: ` w${c}`, message_id: run.chatId },
        offset,
      }));
    }
    await turn();
  }
  for (const run of runs) run.pushDone();
  await Promise.all(runs.map((r) => r.flushed()));
  const used = process.cpuUsage(start);
  return { usPerChunk: (used.user + used.system) / (CHATS * (CHUNKS + 1)), appends };
}

async function measure(name: string, makeStore: () => Store) {
  await round(makeStore()); // warm-up
  const results = [];
  for (let i = 0; i < ROUNDS; i++) results.push(await round(makeStore()));
  const us = median(results.map((r) => r.usPerChunk));
  const perAppend = median(results.map((r) => (CHATS * (CHUNKS + 1)) / r.appends));
  process.stdout.write(`${name.padEnd(8)}  ${fmt(us).padStart(12)}  ${fmt(perAppend).padStart(17)}\n`);
}

process.stdout.write(
  `${CHATS} chats x ${CHUNKS} chunks, ${INTERVAL_MS > 0 ? `${INTERVAL_MS} ms apart` : 'one per event-loop turn'}, median of ${ROUNDS} rounds; src from ${root}\n`,
);
process.stdout.write(
  `${'store'.padEnd(8)}  ${'CPU µs/chunk'.padStart(12)}  ${'chunks per append'.padStart(17)}\n`,
);
await measure(
  'memory',
  () => new MemoryResumeStore({ ttlMs: 60_000, maxChats: 10_000, maxItems: 10_000_000 }),
);

if (redisModule) {
  const redis = new Redis(REDIS_URL, {
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  const reachable = await redis.connect().then(
    () => true,
    () => false,
  );
  if (reachable) {
    const prefix = `shenma-bench:${randomBytes(4).toString('hex')}:`;
    const channels = { publish: async () => 0 };
    await measure(
      'redis',
      () =>
        new redisModule.RedisResumeStore(redis, channels, {
          prefix,
          ttlMs: 60_000,
          log: silent,
          ...(WINDOW_MS !== undefined ? { batchWindowMs: WINDOW_MS } : {}),
        }),
    );
    // Leave nothing behind on a shared Redis.
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  } else {
    process.stdout.write(`redis     skipped: ${REDIS_URL} does not answer\n`);
  }
}
