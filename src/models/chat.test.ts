import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeModel, startFakeModel } from '../../test/fake-model/server.js';
import type { ModelKind } from '../config/schema.js';
import type { ChatChunk } from './backend.js';
import { type ModelBackend, UpstreamError } from './backend.js';
import { upstreamChatBody } from './chat.js';
import { createBackend } from './index.js';

let fake: FakeModel;
beforeAll(async () => {
  fake = await startFakeModel();
});
afterEach(() => fake.reset());
afterAll(() => fake.close());

const never = new AbortController().signal;
const body = (over: Record<string, unknown> = {}) => ({
  model: 'up-id',
  messages: [{ role: 'user', content: 'the secret question' }],
  ...over,
});

/** Every chunk, flattened out of the per-read batches; a batch is never empty. */
async function collect(it: AsyncIterable<ChatChunk[]>): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const batch of it) {
    expect(batch.length).toBeGreaterThan(0);
    out.push(...batch);
  }
  return out;
}

const contentOf = (chunks: ChatChunk[]) =>
  chunks.map((c) => c.json.choices?.[0]?.delta?.content ?? '').join('');

describe('upstreamChatBody', () => {
  it('forces streaming and usage, keeping other stream options and every other field', () => {
    expect(
      upstreamChatBody({
        model: 'm',
        stream: false,
        stream_options: { include_usage: false, x: 1 },
        tools: [],
      }),
    ).toEqual({ model: 'm', stream: true, stream_options: { include_usage: true, x: 1 }, tools: [] });
    expect(upstreamChatBody({ stream_options: null })).toMatchObject({
      stream_options: { include_usage: true },
    });
  });
});

describe.each<[ModelKind, string]>([
  ['openai', '/v1'],
  ['ollama', ''],
  ['llamacpp', ''],
])('%s streamChat', (kind, suffix) => {
  let backend: ModelBackend;
  beforeAll(() => {
    backend = createBackend(kind, { url: fake.url + suffix });
  });
  afterAll(() => backend.close());

  it('posts to /v1/chat/completions and yields every data event, raw and parsed, until [DONE]', async () => {
    fake.enqueue({ chunks: ['Hel', 'lo'] });
    const chunks = await collect(backend.streamChat(body({ temperature: 0.2 }), never));
    expect(fake.requests[0]).toMatchObject({
      path: '/v1/chat/completions',
      body: { model: 'up-id', stream: true, stream_options: { include_usage: true }, temperature: 0.2 },
    });
    expect(chunks[0]!.json.choices?.[0]?.delta?.role).toBe('assistant');
    expect(contentOf(chunks)).toBe('Hello');
    expect(chunks.at(-2)!.json.choices?.[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)!.json.usage).toMatchObject({ completion_tokens: 2 });
    for (const c of chunks) expect(JSON.parse(c.raw)).toEqual(c.json);
  });

  it('delivers a character split across network writes whole', async () => {
    fake.enqueue({ chunks: ['x = "', 'é€😀"'], splitUtf8: true, interChunkMs: 2 });
    expect(contentOf(await collect(backend.streamChat(body(), never)))).toBe('x = "é€😀"');
  });

  it('a stream cut before any finish_reason is a reset, after the chunks that came', async () => {
    fake.enqueue({ chunks: ['a', 'b', 'c'], interChunkMs: 2, fault: { kind: 'reset', afterChunks: 2 } });
    const got: ChatChunk[] = [];
    const err = await (async () => {
      for await (const batch of backend.streamChat(body(), never)) got.push(...batch);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).kind).toBe('reset');
    expect(contentOf(got)).toBe('ab');
  });

  it('maps statuses and unparseable data like streamFim, never quoting the conversation', async () => {
    fake.enqueue({
      chunks: ['a'],
      fault: { kind: 'status', status: 400, body: '{"error":"bad: the secret question is too long"}' },
    });
    const err = (await collect(
      backend.streamChat(
        body({ messages: [{ role: 'user', content: 'x'.repeat(8) + ' the secret question is too long' }] }),
        never,
      ),
    ).catch((e: unknown) => e)) as UpstreamError;
    expect(err).toMatchObject({ kind: 'status', status: 400 });
    expect(err.message).not.toContain('secret');
    fake.enqueue({ chunks: ['a', 'b'], fault: { kind: 'malformed', afterChunks: 1 } });
    const bad = (await collect(backend.streamChat(body(), never)).catch((e: unknown) => e)) as UpstreamError;
    expect(bad.kind).toBe('protocol');
  });

  it('closes the upstream at once on abort and when the consumer breaks', async () => {
    // Long enough (9 s) that only an early close explains a stream that ended before it.
    fake.enqueue({ chunks: Array.from({ length: 3000 }, (_, i) => `t${i}`), interChunkMs: 3 });
    const controller = new AbortController();
    const reason = new Error('client left');
    let n = 0;
    await expect(
      (async () => {
        for await (const _ of backend.streamChat(body(), controller.signal)) {
          if (++n === 3) controller.abort(reason);
        }
      })(),
    ).rejects.toBe(reason);
    const first = await fake.waitForStreamEnd(0, 1000);
    expect(first.clientClosed).toBe(true);
    expect(first.chunksWritten).toBeLessThan(3000);
    expect(first.chunksWrittenAfterClientClose).toBeLessThanOrEqual(1);

    fake.enqueue({ chunks: Array.from({ length: 300 }, (_, i) => `t${i}`), interChunkMs: 3 });
    for await (const _ of backend.streamChat(body(), never)) break;
    const second = await fake.waitForStreamEnd(1, 1000);
    expect(second.clientClosed).toBe(true);
    expect(second.chunksWritten).toBeLessThan(10);
  });
});
