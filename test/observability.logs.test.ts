import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { extensionBody, startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * What an operator reads: one JSON access line per request (with route id, status, user, latency,
 * model and reason), failures at warn, no prompt text, and counters for auth refusals.
 */

const SECRET_CODE = 'do_not_log_this_identifier_42';
const lines: Record<string, unknown>[] = [];
const logStream = {
  write(chunk: string) {
    for (const line of chunk.split('\n')) if (line.trim()) lines.push(JSON.parse(line));
  },
};

let fake: FakeModel;
let shenma: TestShenma;

beforeAll(async () => {
  fake = await startFakeModel();
  shenma = await startTestShenma(
    {
      models: [
        { name: 'coder', kind: 'openai', url: `${fake.url}/v1`, family: 'deepseek-coder' },
        { name: 'assistant', kind: 'openai', url: `${fake.url}/v1`, roles: ['chat'] },
      ],
      completion: { cache: { maxEntries: 0 } },
      log: { level: 'info' },
    },
    { logStream },
  );
});
afterAll(async () => {
  await shenma?.close();
  await fake?.close();
});

const requestLines = () => lines.filter((l) => l.msg === 'request');

/** The access line of the request that answered with this x-request-id. */
function lineOf(res: Response): Record<string, unknown> {
  const id = res.headers.get('x-request-id');
  const found = requestLines().filter((l) => l.requestId === id);
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** onResponse runs after the reply is sent; give the line a moment to be written. */
async function settled(): Promise<void> {
  await new Promise((r) => setImmediate(r));
}

describe('the access log', () => {
  it('has one line per request with route id, status, user, latency, model and reason', async () => {
    fake.enqueue({ chunks: ['42\n'] });
    const res = await shenma.post('/v2/completions', extensionBody(`x = ${SECRET_CODE} + `, '\n'));
    expect(res.status).toBe(200);
    await settled();
    const line = lineOf(res);
    expect(line).toMatchObject({
      level: 30,
      method: 'POST',
      route: 'completion.v2',
      path: '/v2/completions',
      status: 200,
      user: 'tester',
      model: 'coder',
    });
    expect(typeof line.ms).toBe('number');
    expect(typeof line.reason).toBe('string');
  });

  it('logs refused credentials with the reason, and counts them', async () => {
    const missing = await fetch(`${shenma.url}/v1/completions`, { method: 'POST' });
    const badToken = await shenma.post('/v1/completions', {}, { authorization: 'Bearer sk-shenma-nope' });
    expect([missing.status, badToken.status]).toEqual([401, 401]);
    await settled();
    expect(lineOf(missing)).toMatchObject({
      status: 401,
      route: 'completion.openai',
      reason: 'auth:missing',
    });
    expect(lineOf(badToken)).toMatchObject({ status: 401, reason: expect.stringMatching(/^auth:/) });
    const metrics = await (await shenma.get('/metrics')).text();
    expect(metrics).toMatch(/^shenma_auth_refusals_total\{reason="missing"\} 1$/m);
  });

  it('logs a path nobody serves', async () => {
    const res = await shenma.post('/v1/embeddings?input=secret', { input: 'hi' });
    expect(res.status).toBe(404);
    await settled();
    expect(lineOf(res)).toMatchObject({ status: 404, route: 'not_found', path: '/v1/embeddings' });
  });

  it('logs an upstream failure at warn, naming the model', async () => {
    fake.enqueue({ chunks: ['x'], fault: { kind: 'status', status: 500 } });
    const res = await shenma.post('/v1/completions', { prompt: 'y = ', max_tokens: 4 });
    expect(res.status).toBeGreaterThanOrEqual(500);
    await settled();
    const line = lineOf(res);
    expect(line.level).toBe(40);
    expect(line.model ?? line.reason).toBeTruthy();
  });

  it('logs a request whose client hung up: 499 before the answer began, its status after', async () => {
    const linesFor = (path: string) => requestLines().filter((l) => l.path === path);
    const slow = { text: 'abcdefghijklmnopqrstuvwxyz', chunkChars: 2, interChunkMs: 150 };

    fake.enqueue(slow);
    const waiting = new AbortController();
    const before = linesFor('/v1/completions').length;
    const upstreamBefore = fake.requests.length;
    const gone = fetch(`${shenma.url}/v1/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${shenma.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'y = ', max_tokens: 64 }),
      signal: waiting.signal,
    }).catch(() => 'aborted');
    // Hang up once the model has the request (Shenma is waiting for its answer), not after a guess.
    await fake.waitForRequests(upstreamBefore + 1, 10_000);
    waiting.abort();
    expect(await gone).toBe('aborted');
    await expect.poll(() => linesFor('/v1/completions').length, { timeout: 10_000 }).toBe(before + 1);
    expect(linesFor('/v1/completions').at(-1)).toMatchObject({
      status: 499,
      route: 'completion.openai',
      user: 'tester',
      reason: 'client_gone',
    });

    fake.enqueue(slow);
    const reading = new AbortController();
    const res = await fetch(`${shenma.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${shenma.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'assistant', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      signal: reading.signal,
    });
    expect(res.status).toBe(200);
    await res.body!.getReader().read();
    reading.abort();
    await expect.poll(() => linesFor('/v1/chat/completions').length, { timeout: 10_000 }).toBe(1);
    expect(linesFor('/v1/chat/completions')[0]).toMatchObject({ status: 200, user: 'tester' });
    expect(linesFor('/v1/chat/completions')[0]!.reason).toBeTruthy();
  });

  it('keeps health probes and metric scrapes out of the info log', async () => {
    const res = await shenma.get('/healthz');
    expect(res.status).toBe(200);
    await settled();
    expect(requestLines().filter((l) => l.requestId === res.headers.get('x-request-id'))).toEqual([]);
  });

  it('never logs prompt text, never says reqId, and gives every request its own id', () => {
    const all = JSON.stringify(lines);
    expect(all).not.toContain(SECRET_CODE);
    expect(lines.some((l) => 'reqId' in l)).toBe(false);
    const ids = requestLines().map((l) => l.requestId);
    expect(ids.every((id) => typeof id === 'string' && id !== '')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
