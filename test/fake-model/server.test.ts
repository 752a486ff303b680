import { request as httpRequest } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chunksWrittenSince, epochMs, type FakeModel, scriptChunks, startFakeModel } from './server.js';

let fake: FakeModel;

beforeAll(async () => {
  fake = await startFakeModel();
});
afterEach(() => fake.reset());
afterAll(() => fake.close());

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Body bytes per network read, to check how chunks were written. */
  reads: Buffer[];
}

function send(base: string, method: string, path: string, body?: unknown): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      { method, headers: { 'content-type': 'application/json' } },
      (res) => {
        const reads: Buffer[] = [];
        res.on('data', (b: Buffer) => reads.push(b));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(reads).toString('utf8'),
            reads,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const sseData = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => l.slice(6));

describe('protocols', () => {
  it('streams OpenAI completions as SSE ending with [DONE]', async () => {
    fake.enqueue({ chunks: ['a', 'b'], finishReason: 'length' });
    const res = await send(fake.url, 'POST', '/v1/completions', { prompt: 'x', stream: true });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    const data = sseData(res.text);
    expect(data.at(-1)).toBe('[DONE]');
    const events = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(events.map((e) => e.choices[0].text)).toEqual(['a', 'b', '']);
    expect(events.map((e) => e.choices[0].finish_reason)).toEqual([null, null, 'length']);
  });

  it('answers OpenAI completions as JSON without stream', async () => {
    fake.enqueue({ chunks: ['a', 'b'] });
    const res = await send(fake.url, 'POST', '/v1/completions', { prompt: 'x' });
    expect(JSON.parse(res.text).choices[0]).toMatchObject({ text: 'ab', finish_reason: 'stop' });
  });

  it('lists OpenAI models', async () => {
    const res = await send(fake.url, 'GET', '/v1/models');
    expect(JSON.parse(res.text).data[0].id).toBe('fake-model');
  });

  it('streams Ollama generate as NDJSON (streaming is the default) and answers JSON with stream false', async () => {
    fake.enqueue({ chunks: ['a', 'b'] }, { chunks: ['c', 'd'] });
    const streamed = await send(fake.url, 'POST', '/api/generate', { prompt: 'x', suffix: 'y' });
    const lines = streamed.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.response)).toEqual(['a', 'b', '']);
    expect(lines.map((l) => l.done)).toEqual([false, false, true]);
    const whole = await send(fake.url, 'POST', '/api/generate', { prompt: 'x', stream: false });
    expect(JSON.parse(whole.text)).toMatchObject({ response: 'cd', done: true });
    expect(fake.requests[0]?.body).toMatchObject({ suffix: 'y' });
  });

  it('lists Ollama tags', async () => {
    const res = await send(fake.url, 'GET', '/api/tags');
    expect(JSON.parse(res.text).models).toHaveLength(1);
  });

  it('streams llama.cpp infill and completion as SSE content events', async () => {
    fake.enqueue({ chunks: ['a', 'b'] }, { chunks: ['c'] });
    const infill = await send(fake.url, 'POST', '/infill', {
      input_prefix: 'x',
      input_suffix: 'y',
      stream: true,
    });
    const events = sseData(infill.text).map((d) => JSON.parse(d));
    expect(events).toEqual([
      { content: 'a', stop: false },
      { content: 'b', stop: false },
      { content: '', stop: true, stop_type: 'eos' },
    ]);
    const completion = await send(fake.url, 'POST', '/completion', { prompt: 'x', stream: true });
    expect(sseData(completion.text).map((d) => JSON.parse(d).content)).toEqual(['c', '']);
  });

  it('answers llama.cpp health, and the configured status when unhealthy', async () => {
    expect((await send(fake.url, 'GET', '/health')).status).toBe(200);
    fake.healthStatus = 503;
    expect((await send(fake.url, 'GET', '/health')).status).toBe(503);
    expect((await send(fake.url, 'GET', '/v1/models')).status).toBe(503);
  });

  it('rejects a suffix in vLLM mode with an OpenAI-style 400, without consuming a script', async () => {
    const vllm = await startFakeModel({ rejectSuffix: true });
    try {
      vllm.enqueue({ chunks: ['kept'] });
      const res = await send(vllm.url, 'POST', '/v1/completions', { prompt: 'x', suffix: 'y', stream: true });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text).error.message).toMatch(/suffix/);
      const ok = await send(vllm.url, 'POST', '/v1/completions', { prompt: 'x' });
      expect(JSON.parse(ok.text).choices[0].text).toBe('kept');
    } finally {
      await vllm.close();
    }
  });

  it('answers 400 to a body that is not JSON and 404 to unknown routes', async () => {
    const bad = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${fake.url}/v1/completions`, { method: 'POST' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('{nope');
    });
    expect(bad).toBe(400);
    expect((await send(fake.url, 'GET', '/nope')).status).toBe(404);
  });
});

describe('scripts', () => {
  it('are consumed in order, then the default script answers', async () => {
    fake.enqueue({ chunks: ['first'] }, { chunks: ['second'] });
    const texts: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await send(fake.url, 'POST', '/v1/completions', { prompt: 'x' });
      texts.push(JSON.parse(res.text).choices[0].text);
    }
    expect(texts).toEqual(['first', 'second', 'fake completion']);
  });

  it('split text into pieces of chunkChars code points', () => {
    expect(scriptChunks({ text: 'abcdefg', chunkChars: 3 })).toEqual(['abc', 'def', 'g']);
    expect(scriptChunks({ text: '😀😀😀', chunkChars: 2 })).toEqual(['😀😀', '😀']);
  });

  it('honour ttft and inter-chunk delays', async () => {
    fake.enqueue({ chunks: ['a', 'b', 'c'], ttftMs: 40, interChunkMs: 20 });
    const started = epochMs();
    await send(fake.url, 'POST', '/v1/completions', { prompt: 'x', stream: true });
    const record = fake.streams[0]!;
    const [first, , third] = record.chunkWrittenAt;
    expect(first! - started).toBeGreaterThanOrEqual(35);
    expect(third! - first!).toBeGreaterThanOrEqual(35);
  });

  it('write one multi-byte character across two network writes when asked', async () => {
    fake.enqueue({ chunks: ['ab', 'é!'], splitUtf8: true });
    const res = await send(fake.url, 'POST', '/v1/completions', { prompt: 'x', stream: true });
    const events = sseData(res.text)
      .slice(0, -1)
      .map((d) => JSON.parse(d).choices[0].text);
    expect(events.join('')).toBe('abé!');
    const splitRead = res.reads.findIndex((r) => r.at(-1) === 0xc3);
    expect(splitRead).toBeGreaterThanOrEqual(0);
    expect(res.reads[splitRead + 1]?.[0]).toBe(0xa9);
  });

  it('pass leaked special tokens through as text', async () => {
    fake.enqueue({ chunks: ['x', '<|endoftext|>', '<file_sep><fim_prefix>'] });
    const res = await send(fake.url, 'POST', '/v1/completions', { prompt: 'x' });
    expect(JSON.parse(res.text).choices[0].text).toBe('x<|endoftext|><file_sep><fim_prefix>');
  });
});

describe('faults', () => {
  it('status: answers the status, Retry-After and the protocol error body', async () => {
    fake.enqueue({ chunks: ['a'], fault: { kind: 'status', status: 429, retryAfter: 7 } });
    const res = await send(fake.url, 'POST', '/v1/completions', { prompt: 'x', stream: true });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(JSON.parse(res.text).error.message).toContain('429');
    fake.enqueue({ chunks: ['a'], fault: { kind: 'status', status: 500, body: 'boom' } });
    const custom = await send(fake.url, 'POST', '/api/generate', { prompt: 'x' });
    expect([custom.status, custom.text]).toEqual([500, 'boom']);
  });

  it('reset: drops the connection after N chunks', async () => {
    fake.enqueue({ chunks: ['a', 'b', 'c'], fault: { kind: 'reset', afterChunks: 1 } });
    await expect(send(fake.url, 'POST', '/v1/completions', { prompt: 'x', stream: true })).rejects.toThrow();
    const record = await fake.waitForStreamEnd(0, 1000);
    expect(record.chunksWritten).toBe(1);
    expect(record.finished).toBe(false);
  });

  it('malformed: inserts an unparseable event after N chunks, then carries on', async () => {
    fake.enqueue({ chunks: ['a', 'b'], fault: { kind: 'malformed', afterChunks: 1 } });
    const res = await send(fake.url, 'POST', '/v1/completions', { prompt: 'x', stream: true });
    const data = sseData(res.text);
    expect(() => JSON.parse(data[1]!)).toThrow();
    expect(JSON.parse(data[2]!).choices[0].text).toBe('b');
  });

  it('stall sends headers then nothing; hang sends nothing at all', async () => {
    for (const kind of ['stall', 'hang'] as const) {
      fake.reset();
      fake.enqueue({ chunks: ['a'], fault: { kind } });
      const gotHeaders = await new Promise<boolean>((resolve, reject) => {
        const req = httpRequest(`${fake.url}/v1/completions`, { method: 'POST' }, (res) => {
          res.on('data', () => reject(new Error('unexpected body')));
          setTimeout(() => {
            req.destroy();
            resolve(true);
          }, 60);
        });
        req.on('error', () => undefined);
        setTimeout(() => {
          req.destroy();
          resolve(false);
        }, 120);
        req.end(JSON.stringify({ prompt: 'x', stream: true }));
      });
      expect(gotHeaders).toBe(kind === 'stall');
      const record = await fake.waitForStreamEnd(0, 1000);
      expect(record).toMatchObject({ clientClosed: true, chunksWritten: 0, chunksPlanned: 1 });
    }
  });
});

describe('recording and abort accounting', () => {
  it('records path, method, headers and parsed body of every request', async () => {
    fake.enqueue({ chunks: ['a'] });
    const before = epochMs();
    await send(fake.url, 'POST', '/v1/completions', { prompt: 'p', max_tokens: 3 });
    await send(fake.url, 'GET', '/v1/models');
    await fake.waitForRequests(2, 100);
    expect(fake.requests.map((r) => [r.method, r.path])).toEqual([
      ['POST', '/v1/completions'],
      ['GET', '/v1/models'],
    ]);
    expect(fake.requests[0]?.body).toEqual({ prompt: 'p', max_tokens: 3 });
    expect(fake.requests[0]?.headers['content-type']).toBe('application/json');
    expect(fake.requests[0]?.receivedAt).toBeGreaterThanOrEqual(before);
    await expect(fake.waitForRequests(3, 20)).rejects.toThrow(/3 requests/);
  });

  it('stops writing when the client closes and records what it would still have sent', async () => {
    fake.enqueue({ chunks: Array.from({ length: 100 }, (_, i) => `c${i} `), interChunkMs: 5 });
    let closedAt = 0;
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${fake.url}/v1/completions`, { method: 'POST' }, (res) => {
        let reads = 0;
        res.on('data', () => {
          reads++;
          if (reads === 3) {
            closedAt = epochMs();
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', () => undefined);
      req.end(JSON.stringify({ prompt: 'x', stream: true }));
    });
    const record = await fake.waitForStreamEnd(0, 1000);
    expect(record.clientClosed).toBe(true);
    expect(record.finished).toBe(false);
    expect(record.chunksWrittenAfterClientClose).toBe(0);
    expect(chunksWrittenSince(record, closedAt)).toBeLessThanOrEqual(1);
    expect(record.chunksRemainingAtClose).toBe(record.chunksPlanned - record.chunksWritten);
    expect(record.chunksRemainingAtClose).toBeGreaterThan(90);
    await new Promise((r) => setTimeout(r, 30));
    expect(fake.streams[0]?.chunksWritten).toBe(record.chunksWritten);
  });

  it('exposes records and scripting over HTTP for out-of-process benchmarks', async () => {
    await send(fake.url, 'POST', '/__fake/enqueue', [{ chunks: ['remote'] }]);
    const res = await send(fake.url, 'POST', '/v1/completions', { prompt: 'x' });
    expect(JSON.parse(res.text).choices[0].text).toBe('remote');
    const streams = JSON.parse((await send(fake.url, 'GET', '/__fake/streams')).text);
    expect(streams).toHaveLength(1);
    expect(fake.requests).toHaveLength(1);
    await send(fake.url, 'POST', '/__fake/reset');
    expect(fake.streams).toHaveLength(0);
  });
});

describe('chat completions', () => {
  it('streams a role chunk, content deltas, a finish chunk, usage only when asked, then [DONE]', async () => {
    fake.enqueue(
      { chunks: ['a', 'b'] },
      { chunks: ['a', 'b'], usage: { prompt_tokens: 9, completion_tokens: 2 } },
    );
    const plain = await send(fake.url, 'POST', '/v1/chat/completions', {
      model: 'm1',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    expect(plain.headers['content-type']).toBe('text/event-stream');
    const data = sseData(plain.text);
    expect(data.at(-1)).toBe('[DONE]');
    const events = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(events.map((e) => e.choices[0].delta)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'a' },
      { content: 'b' },
      {},
    ]);
    expect(events.at(-1).choices[0].finish_reason).toBe('stop');
    expect(events.every((e) => e.model === 'm1' && e.object === 'chat.completion.chunk')).toBe(true);
    const withUsage = await send(fake.url, 'POST', '/v1/chat/completions', {
      messages: [],
      stream: true,
      stream_options: { include_usage: true },
    });
    const usage = JSON.parse(sseData(withUsage.text).at(-2)!);
    expect(usage).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
    });
    expect(fake.streams[0]).toMatchObject({
      protocol: 'chat',
      chunksPlanned: 2,
      chunksWritten: 2,
      finished: true,
    });
  });

  it('answers JSON when not streaming', async () => {
    fake.enqueue({ chunks: ['x', 'y'], finishReason: 'length' });
    const res = await send(fake.url, 'POST', '/v1/chat/completions', { model: 'm', messages: [] });
    expect(JSON.parse(res.text)).toMatchObject({
      object: 'chat.completion',
      model: 'm',
      choices: [{ message: { role: 'assistant', content: 'xy' }, finish_reason: 'length' }],
    });
  });
});
