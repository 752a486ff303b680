import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeModel, type Script, startFakeModel } from './fake-model/server.js';
import { extensionBody, startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * The adaptive per-replica concurrency limit end to end: completions through Shenma's HTTP API
 * against the scripted fake model, the limit read from /metrics. The fake's slow-down is ten
 * times its normal first-token time, far beyond what the limit tolerates (2 × baseline + 50 ms),
 * so what the test sees depends on how many answers arrived, not on how fast this machine is.
 */

const FAST: Script = { chunks: ['a + b'], ttftMs: 100 };
const SLOW: Script = { chunks: ['a + b'], ttftMs: 1200 };
const CLIENTS = 8;

let fake: FakeModel;
let shenma: TestShenma;

beforeAll(async () => {
  fake = await startFakeModel({ defaultScript: FAST });
  shenma = await startTestShenma({
    models: [
      {
        name: 'coder',
        kind: 'openai',
        url: `${fake.url}/v1`,
        family: 'deepseek-coder',
        maxConcurrency: CLIENTS,
        adaptiveConcurrency: true,
        maxQueue: 64,
      },
    ],
    completion: {
      model: 'coder',
      cache: { maxEntries: 0 },
      timeouts: { queueMs: 60_000, firstTokenMs: 30_000, totalMs: 60_000 },
    },
  });
});

afterAll(async () => {
  await shenma?.close();
  await fake?.close();
});

async function gauge(name: string): Promise<number> {
  const res = await shenma.get('/metrics');
  expect(res.status).toBe(200);
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes('model="coder"'));
  expect(line, `${name} for model coder on /metrics`).toBeDefined();
  return Number(line!.slice(line!.lastIndexOf(' ') + 1));
}

let sent = 0;

async function complete(): Promise<void> {
  const i = sent++;
  // Each request its own completion stream, so none supersedes another.
  const res = await shenma.post(
    '/v2/completions',
    extensionBody(`# request ${i}\ndef add(a, b):\n    return `, '\n', {
      completion_id: `${i}-${i.toString(16).padStart(16, '0')}`,
    }),
  );
  expect(res.status).toBe(200);
  expect((await res.json()).choices[0].text).toBe('a + b');
}

/** `count` completions from CLIENTS closed-loop clients (each sends its next when answered). */
async function load(count: number): Promise<void> {
  let left = count;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (left > 0) {
        left--;
        await complete();
      }
    }),
  );
}

describe('adaptive concurrency per replica', () => {
  it('shows each replica limit and in-flight count on /metrics from the start', async () => {
    expect(await gauge('shenma_model_replica_concurrency_limit')).toBe(CLIENTS);
    expect(await gauge('shenma_model_replica_in_flight')).toBe(0);
  });

  it('shrinks the limit when the model slows down and grows it back when it recovers', async () => {
    // Four windows of eight first tokens at the normal speed: the limit holds.
    await load(32);
    expect(await gauge('shenma_model_replica_concurrency_limit')).toBe(CLIENTS);

    // Two windows of slow first tokens: each halves the limit (8 → 4 → 2).
    fake.enqueue(...Array.from({ length: 16 }, () => SLOW));
    await load(16);
    expect(await gauge('shenma_model_replica_concurrency_limit')).toBe(2);
    expect(await gauge('shenma_model_replica_in_flight')).toBe(0);

    // Recovered: every window that holds with the limit in use grows it by its square root
    // (2 → 3 → 5 → 7 → 8), back to maxConcurrency and no further.
    await load(48);
    expect(await gauge('shenma_model_replica_concurrency_limit')).toBe(CLIENTS);
    // Every answer came from the model (no cache, no refusal).
    expect(fake.streams.filter((s) => s.finished)).toHaveLength(32 + 16 + 48);
  }, 60_000);
});
