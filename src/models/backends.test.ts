import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chunksWrittenSince, epochMs, type FakeModel, startFakeModel } from '../../test/fake-model/server.js';
import type { ModelKind } from '../config/schema.js';
import { type FimRequest, type ModelBackend, UpstreamError } from './backend.js';
import { parseRetryAfter, upstreamMessage, withholdQuotes } from './http.js';
import { createBackend } from './index.js';

let fake: FakeModel;

beforeAll(async () => {
  fake = await startFakeModel();
});
afterEach(() => fake.reset());
afterAll(() => fake.close());

const KINDS: ModelKind[] = ['openai', 'ollama', 'llamacpp'];
const urlFor = (kind: ModelKind, base: string) => (kind === 'openai' ? `${base}/v1` : base);

const request = (over: Partial<FimRequest> = {}): FimRequest => ({
  model: 'm',
  prompt: 'def add(a, b):\n',
  maxTokens: 32,
  temperature: 0.1,
  stop: ['\n\n'],
  ...over,
});

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const piece of iterable) out.push(piece);
  return out;
}

async function upstreamError(promise: Promise<unknown>): Promise<UpstreamError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UpstreamError);
  return err as UpstreamError;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const never = new AbortController().signal;

describe.each(KINDS)('%s backend', (kind) => {
  let backend: ModelBackend;
  beforeAll(() => {
    backend = createBackend(kind, { url: urlFor(kind, fake.url) });
  });
  afterAll(() => backend.close());

  it('streams the text pieces in order', async () => {
    fake.enqueue({ chunks: ['  return', ' a + b', '\n'] });
    expect(await collect(backend.streamFim(request(), never))).toEqual(['  return', ' a + b', '\n']);
  });

  it('delivers a character split across network writes whole', async () => {
    fake.enqueue({ chunks: ['x = "', 'é€😀"', '\n'], splitUtf8: true, interChunkMs: 2 });
    const pieces = await collect(backend.streamFim(request(), never));
    expect(pieces.join('')).toBe('x = "é€😀"\n');
    expect(pieces.join('')).not.toContain('\uFFFD');
  });

  it('passes leaked special tokens through as text', async () => {
    fake.enqueue({ chunks: ['a', '<|endoftext|>'] });
    expect((await collect(backend.streamFim(request(), never))).join('')).toBe('a<|endoftext|>');
  });

  it('maps 429 with Retry-After to a status error with retryAfter', async () => {
    fake.enqueue({ chunks: ['a'], fault: { kind: 'status', status: 429, retryAfter: 3 } });
    const err = await upstreamError(collect(backend.streamFim(request(), never)));
    expect(err).toMatchObject({ kind: 'status', status: 429, retryAfter: 3 });
    expect(err.message).toBe('backend answered 429');
    expect(err.detail).toContain('fake error 429');
  });

  it('maps 500 to a status error and never repeats the prompt in the message', async () => {
    const prompt = 'function secretBusinessLogic(customerRecord) {\n  return customerRecord.balance';
    fake.enqueue({
      chunks: ['a'],
      fault: { kind: 'status', status: 500, body: JSON.stringify({ error: `cannot tokenize: ${prompt}` }) },
    });
    const err = await upstreamError(collect(backend.streamFim(request({ prompt }), never)));
    expect(err).toMatchObject({ kind: 'status', status: 500, retryAfter: undefined });
    expect(err.message).not.toContain('secretBusinessLogic');
  });

  it('maps a connection dropped mid-stream to reset, after the pieces that arrived', async () => {
    fake.enqueue({ chunks: ['a', 'b', 'c'], interChunkMs: 2, fault: { kind: 'reset', afterChunks: 2 } });
    const got: string[] = [];
    const err = await upstreamError(
      (async () => {
        for await (const piece of backend.streamFim(request(), never)) got.push(piece);
      })(),
    );
    expect(err.kind).toBe('reset');
    expect(got).toEqual(['a', 'b']);
  });

  it('maps unparseable data to protocol', async () => {
    fake.enqueue({ chunks: ['a', 'b'], fault: { kind: 'malformed', afterChunks: 1 } });
    const err = await upstreamError(collect(backend.streamFim(request(), never)));
    expect(err.kind).toBe('protocol');
  });

  it('maps a refused connection to unreachable', async () => {
    const down = createBackend(kind, { url: urlFor(kind, `http://127.0.0.1:${await closedPort()}`) });
    try {
      const err = await upstreamError(collect(down.streamFim(request(), never)));
      expect(err.kind).toBe('unreachable');
      expect((await upstreamError(down.probe(never))).kind).toBe('unreachable');
    } finally {
      await down.close();
    }
  });

  it('closes the upstream at once on abort mid-stream, with at most one chunk written after', async () => {
    fake.enqueue({ chunks: Array.from({ length: 400 }, (_, i) => `t${i} `), interChunkMs: 3 });
    const controller = new AbortController();
    const reason = new Error('deadline');
    let abortedAt = 0;
    const got: string[] = [];
    const outcome = (async () => {
      for await (const piece of backend.streamFim(request(), controller.signal)) {
        got.push(piece);
        if (got.length === 3) {
          abortedAt = epochMs();
          controller.abort(reason);
        }
      }
    })();
    await expect(outcome).rejects.toBe(reason);
    const record = await fake.waitForStreamEnd(0, 1000);
    expect(record.clientClosed).toBe(true);
    expect(chunksWrittenSince(record, abortedAt)).toBeLessThanOrEqual(1);
    expect(record.chunksWrittenAfterClientClose).toBeLessThanOrEqual(1);
    expect(record.chunksRemainingAtClose).toBeGreaterThan(350);
  });

  it('closes the upstream when the consumer aborts while idle between pieces', async () => {
    fake.enqueue({ chunks: Array.from({ length: 400 }, (_, i) => `t${i} `), interChunkMs: 3 });
    const controller = new AbortController();
    const iterator = backend.streamFim(request(), controller.signal)[Symbol.asyncIterator]();
    await iterator.next();
    const abortedAt = epochMs();
    controller.abort();
    const record = await fake.waitForStreamEnd(0, 1000);
    expect(record.clientClosed).toBe(true);
    expect(chunksWrittenSince(record, abortedAt)).toBeLessThanOrEqual(1);
    await expect(iterator.next()).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('throws the abort reason while waiting for headers and for the first token', async () => {
    for (const fault of [{ kind: 'hang' }, { kind: 'stall' }] as const) {
      fake.reset();
      fake.enqueue({ chunks: ['a'], fault });
      const controller = new AbortController();
      const reason = new Error(`first-token deadline (${fault.kind})`);
      setTimeout(() => controller.abort(reason), 30);
      await expect(collect(backend.streamFim(request(), controller.signal))).rejects.toBe(reason);
      const record = await fake.waitForStreamEnd(0, 1000);
      expect(record.clientClosed).toBe(true);
    }
  });

  it('rejects at once with an already aborted signal, sending nothing', async () => {
    const reason = new Error('gone');
    await expect(collect(backend.streamFim(request(), AbortSignal.abort(reason)))).rejects.toBe(reason);
    expect(fake.requests).toHaveLength(0);
  });

  it('closes the upstream when the consumer breaks out of the loop', async () => {
    fake.enqueue({ chunks: Array.from({ length: 400 }, (_, i) => `t${i} `), interChunkMs: 3 });
    for await (const _piece of backend.streamFim(request(), never)) break;
    const record = await fake.waitForStreamEnd(0, 1000);
    expect(record.clientClosed).toBe(true);
    expect(record.chunksWritten).toBeLessThan(10);
  });

  it('keeps the connection alive across completed streams', async () => {
    fake.enqueue({ chunks: ['a'] }, { chunks: ['b'] });
    await collect(backend.streamFim(request(), never));
    await new Promise((r) => setTimeout(r, 20));
    await collect(backend.streamFim(request(), never));
    const [first, second] = fake.requests;
    expect(second?.remotePort).toBe(first?.remotePort);
  });

  it('probes ok, and fails with a status error when the backend is unhealthy', async () => {
    await backend.probe(never);
    fake.healthStatus = 503;
    const err = await upstreamError(backend.probe(never));
    expect(err).toMatchObject({ kind: 'status', status: 503 });
  });

  it('sends the API key as a Bearer token', async () => {
    const keyed = createBackend(kind, { url: urlFor(kind, fake.url), apiKey: 'sk-test' });
    try {
      await collect(keyed.streamFim(request(), never));
      await keyed.probe(never);
      expect(fake.requests.map((r) => r.headers['authorization'])).toEqual([
        'Bearer sk-test',
        'Bearer sk-test',
      ]);
    } finally {
      await keyed.close();
    }
    await collect(backend.streamFim(request(), never));
    expect(fake.requests.at(-1)?.headers['authorization']).toBeUndefined();
  });
});

describe('a model url without its API base', () => {
  it('says which path answered 404 and what the url usually ends with', async () => {
    const fake = await startFakeModel();
    // The fake serves /v1/models; the url lacks the /v1.
    const backend = createBackend('openai', { url: fake.url });
    try {
      const err = await upstreamError(backend.probe(new AbortController().signal));
      expect(err.status).toBe(404);
      expect(err.message).toBe(
        "GET /models answered 404: is the url the server's API base? (kind openai: usually ending in /v1; ollama and llamacpp: without it)",
      );
    } finally {
      await backend.close();
      await fake.close();
    }
  });
});

describe('request bodies', () => {
  const backends: Partial<Record<ModelKind, ModelBackend>> = {};
  beforeAll(() => {
    for (const kind of KINDS) backends[kind] = createBackend(kind, { url: urlFor(kind, fake.url) });
  });
  afterAll(async () => {
    for (const b of Object.values(backends)) await b.close();
  });
  const send = (kind: ModelKind, over: Partial<FimRequest>) =>
    collect(backends[kind]!.streamFim(request(over), never)).then(() => fake.requests.at(-1)!);

  it('openai: prompt, suffix, max_tokens, temperature, stop, stream', async () => {
    const withSuffix = await send('openai', { suffix: 'print(add(1, 2))', stop: ['\n\n', '<|endoftext|>'] });
    expect(withSuffix.path).toBe('/v1/completions');
    expect(withSuffix.body).toEqual({
      model: 'm',
      prompt: 'def add(a, b):\n',
      suffix: 'print(add(1, 2))',
      max_tokens: 32,
      temperature: 0.1,
      stop: ['\n\n', '<|endoftext|>'],
      stream: true,
    });
    const templated = await send('openai', { prompt: '<PRE> x <SUF>y <MID>' });
    expect(templated.body).not.toHaveProperty('suffix');
    expect(templated.body).toMatchObject({ prompt: '<PRE> x <SUF>y <MID>' });
  });

  it.each(KINDS)('%s: a prompt given in pieces reaches the model as its whole text', async (kind) => {
    const promptParts = ['<｜fim▁begin｜>', 'naïve = "😀"\n', '<｜fim▁hole｜>', '<｜fim▁end｜>'];
    const sent = await send(kind, { prompt: promptParts.join(''), promptParts });
    expect(sent.body).toMatchObject({ prompt: promptParts.join('') });
  });

  it.each(KINDS)('%s: the body is encoded from the pieces, not from the joined prompt', async (kind) => {
    // A pair cut between two pieces is escaped half by half (\ud83d\ude00); the joined text would
    // carry the emoji itself. Both parse to the same prompt, so only the bytes tell them apart.
    const promptParts = ['x = "a\ud83d', '\ude00b"\n'];
    const sent = await send(kind, { prompt: promptParts.join(''), promptParts });
    expect(sent.rawBody).toContain('a\\ud83d\\ude00b');
    expect(sent.body).toMatchObject({ prompt: 'x = "a😀b"\n' });
  });

  it('ollama: suffix field, or raw for a templated prompt; options carry the limits', async () => {
    const withSuffix = await send('ollama', { suffix: 'tail', maxTokens: 7, temperature: 0 });
    expect(withSuffix.path).toBe('/api/generate');
    expect(withSuffix.body).toEqual({
      model: 'm',
      prompt: 'def add(a, b):\n',
      suffix: 'tail',
      stream: true,
      options: { num_predict: 7, temperature: 0, stop: ['\n\n'] },
    });
    const templated = await send('ollama', {});
    expect(templated.body).toMatchObject({ raw: true, stream: true });
    expect(templated.body).not.toHaveProperty('suffix');
  });

  it('llamacpp: /infill with a suffix, /completion for a templated prompt', async () => {
    const withSuffix = await send('llamacpp', { suffix: 'tail', maxTokens: 9 });
    expect(withSuffix.path).toBe('/infill');
    expect(withSuffix.body).toMatchObject({
      input_prefix: 'def add(a, b):\n',
      input_suffix: 'tail',
      n_predict: 9,
      temperature: 0.1,
      stop: ['\n\n'],
      stream: true,
    });
    const templated = await send('llamacpp', {});
    expect(templated.path).toBe('/completion');
    expect(templated.body).toMatchObject({ prompt: 'def add(a, b):\n', n_predict: 32, stream: true });
    expect(templated.body).not.toHaveProperty('input_suffix');
  });

  it('keeps a configured base path and query string', async () => {
    const proxied = createBackend('ollama', { url: `${fake.url}/?tenant=a` });
    try {
      await collect(proxied.streamFim(request(), never));
      expect(fake.requests.at(-1)?.path).toBe('/api/generate');
    } finally {
      await proxied.close();
    }
  });
});

describe('vLLM-like backend without suffix support', () => {
  it('surfaces its 400 as a status error', async () => {
    const vllm = await startFakeModel({ rejectSuffix: true });
    const backend = createBackend('openai', { url: `${vllm.url}/v1` });
    try {
      const err = await upstreamError(collect(backend.streamFim(request({ suffix: 'tail' }), never)));
      expect(err).toMatchObject({ kind: 'status', status: 400 });
      expect(err.detail).toContain('suffix is not currently supported');
      expect(await collect(backend.streamFim(request(), never))).toEqual(['fake', ' completion']);
    } finally {
      await backend.close();
      await vllm.close();
    }
  });
});

describe('error helpers', () => {
  it('parse Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('5')).toBe(5);
    expect(parseRetryAfter('1.2')).toBe(2);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 0)).toBe(10);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('read the message from each backend error shape', () => {
    expect(upstreamMessage('{"error":{"message":"m1"}}')).toBe('m1');
    expect(upstreamMessage('{"error":"m2"}')).toBe('m2');
    expect(upstreamMessage('{"object":"error","message":"m3"}')).toBe('m3');
    expect(upstreamMessage('{"detail":"m4"}')).toBe('m4');
    expect(upstreamMessage('Bad\n gateway')).toBe('Bad gateway');
  });

  it('truncate long messages and withhold ones quoting the request', () => {
    expect(withholdQuotes('x'.repeat(500), []).length).toBe(200);
    const prompt = 'const password = "hunter2"; // a long line of user code';
    expect(withholdQuotes(`bad input: ${prompt.slice(5, 40)}`, [prompt])).toMatch(/withheld/);
    expect(withholdQuotes('model is loading', [prompt])).toBe('model is loading');
  });
});
