import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { extensionBody, startTestShenma, type TestShenma } from './support/shenma.js';

/** Unreachable models, replicas, bounded queues: what an operator sees when capacity runs out. */

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Polls a condition the server reaches on its own; no fixed sleeps. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function track<T extends { close(): Promise<void> }>(p: Promise<T>): Promise<T> {
  const v = await p;
  cleanup.push(() => v.close());
  return v;
}

describe('an unreachable model', () => {
  it('shows in /readyz and answers 503 at once instead of hanging', async () => {
    const port = await closedPort();
    const shenma: TestShenma = await track(
      startTestShenma({
        models: [{ name: 'coder', kind: 'ollama', url: `http://127.0.0.1:${port}`, family: 'qwen2.5-coder' }],
      }),
    );
    const ready = await shenma.get('/readyz');
    expect(ready.status).toBe(503);
    const readyBody = await ready.json();
    expect(readyBody.checks.completion_models.ok).toBe(false);
    expect(JSON.stringify(readyBody.checks.completion_models.detail)).toContain(`127.0.0.1:${port}`);
    const res = await shenma.post('/v2/completions', extensionBody('def f():\n    return ', '\n'));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).not.toBeNull();
    const body = await res.json();
    expect(body.error.type).toBe('model_unavailable');
    expect(body.error.message).toContain('coder');
    // Answered from the known-down state, not after trying to connect again.
    expect(body.error.message).toContain(`127.0.0.1:${port}`);
  });
});

describe('a model that dies', () => {
  it('answers the first request after it died with a 503 naming the cause', async () => {
    const fake = await startFakeModel({ defaultScript: { chunks: ['ok'] } });
    const shenma = await track(
      startTestShenma({
        models: [{ name: 'coder', kind: 'openai', url: `${fake.url}/v1`, family: 'starcoder2' }],
        completion: { cache: { maxEntries: 0 } },
      }),
    );
    const live = await shenma.post(
      '/v2/completions',
      extensionBody('a = ', '\n', { completion_id: undefined }),
    );
    expect(live.status).toBe(200);
    await fake.close();
    const res = await shenma.post(
      '/v2/completions',
      extensionBody('b = ', '\n', { completion_id: undefined }),
    );
    expect(res.status).toBe(503);
    const message: string = (await res.json()).error.message;
    expect(message).toContain(fake.url.replace('http://', ''));
    expect(message).not.toContain('no other replica');
    expect(message).toMatch(/ECONNREFUSED|refused|unreachable|connect/i);
  });
});

describe('replicas of one model', () => {
  it('balances by least load and routes around a replica that went down', async () => {
    const a = await startFakeModel({ defaultScript: { chunks: ['A'], ttftMs: 80 } });
    const b = await track(startFakeModel({ defaultScript: { chunks: ['B'], ttftMs: 80 } }));
    const shenma = await track(
      startTestShenma({
        models: [
          { name: 'coder', kind: 'openai', url: `${a.url}/v1`, family: 'starcoder2', maxConcurrency: 4 },
          { name: 'coder', kind: 'openai', url: `${b.url}/v1`, family: 'starcoder2', maxConcurrency: 4 },
        ],
        completion: { cache: { maxEntries: 0 } },
      }),
    );
    const bodies = Array.from({ length: 6 }, (_, i) =>
      extensionBody(`x${i} = `, '\n', { completion_id: undefined }),
    );
    const answers = await Promise.all(
      bodies.map(async (b) => (await (await shenma.post('/v2/completions', b)).json()).choices[0].text),
    );
    expect(answers.filter((t: string) => t === 'A')).toHaveLength(3);
    expect(answers.filter((t: string) => t === 'B')).toHaveLength(3);

    await a.close();
    const after = await Promise.all(
      [1, 2, 3].map(
        async (i) =>
          (
            await (
              await shenma.post(
                '/v2/completions',
                extensionBody(`y${i} = `, '\n', { completion_id: undefined }),
              )
            ).json()
          ).choices[0].text,
      ),
    );
    expect(after).toEqual(['B', 'B', 'B']);
  });
});

describe('a full queue', () => {
  let fake: FakeModel;
  it('answers 429 with Retry-After at once rather than queueing forever', async () => {
    fake = await track(startFakeModel({ defaultScript: { chunks: ['slow'], ttftMs: 400 } }));
    const shenma = await track(
      startTestShenma({
        models: [
          {
            name: 'coder',
            kind: 'openai',
            url: `${fake.url}/v1`,
            family: 'deepseek-coder',
            maxConcurrency: 1,
            maxQueue: 1,
          },
        ],
        completion: {
          timeouts: { queueMs: 2000, firstTokenMs: 2000, totalMs: 3000 },
          cache: { maxEntries: 0 },
        },
      }),
    );
    const inFlight = shenma.post(
      '/v2/completions',
      extensionBody('a = ', '\n', { completion_id: undefined }),
    );
    await fake.waitForRequests(1, 2000);
    const queued = shenma.post('/v2/completions', extensionBody('b = ', '\n', { completion_id: undefined }));
    await until(() => shenma.server.models.get('coder')!.queueLength === 1);
    const refused = await shenma.post(
      '/v2/completions',
      extensionBody('c = ', '\n', { completion_id: undefined }),
    );
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    const error = (await refused.json()).error;
    expect(error.type).toBe('overloaded_error');
    // Refused because the queue is full, at once, not after waiting out the queue deadline.
    expect(error.message).toContain('queue is full');
    expect((await inFlight).status).toBe(200);
    expect((await queued).status).toBe(200);
  });
});

describe('UTF-8 across network chunks', () => {
  it('delivers a character split between two upstream writes whole', async () => {
    const fake = await track(startFakeModel());
    const shenma = await track(
      startTestShenma({ models: [{ name: 'coder', kind: 'llamacpp', url: fake.url, family: 'codellama' }] }),
    );
    fake.enqueue({ chunks: ['"你好', '世界"'], splitUtf8: true });
    const res = await shenma.post('/v2/completions', extensionBody('greeting = ', '\n'));
    const body = await res.json();
    expect(body.choices[0].text).toBe('"你好世界"');
    expect(body.choices[0].text).not.toContain('\uFFFD');
  });
});
