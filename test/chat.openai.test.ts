import { createServer } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openAiChatHandlers } from '../src/chat/openai-api.js';
import { ChatService } from '../src/chat/service.js';
import type { ChatContext, ChatHooks, ChatOutcome, OutputFilter } from '../src/chat/types.js';
import { type ChatConfig, chatSchema, type ModelConfig, modelSchema } from '../src/config/schema.js';
import { fastifyErrorHandler } from '../src/http/errors.js';
import { createBackend, ModelRegistry } from '../src/models/index.js';
import { epochMs, type FakeModel, startFakeModel } from './fake-model/server.js';

/**
 * The OpenAI-compatible chat API end to end: a real ChatService over a real ModelRegistry
 * pointing at the fake model, mounted on a small Fastify app with in-test hooks. The lead's
 * wiring of the chat role (src/chat/role.ts: real hooks, auth, the route table) is tested
 * elsewhere; this file pins the streaming, retry, deadline and wire-format behaviour.
 */

let fakeA: FakeModel;
let fakeB: FakeModel;

beforeAll(async () => {
  fakeA = await startFakeModel();
  fakeB = await startFakeModel();
});
afterEach(() => {
  fakeA.reset();
  fakeB.reset();
});
afterAll(async () => {
  await fakeA.close();
  await fakeB.close();
});

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Masks "secret", holding back only a tail that could still become one. */
function maskingFilter(word = 'secret', mask = '***'): OutputFilter {
  let held = '';
  return {
    push(text) {
      const all = (held + text).split(word).join(mask);
      let keep = 0;
      for (let n = Math.min(word.length - 1, all.length); n > 0; n--) {
        if (word.startsWith(all.slice(-n))) {
          keep = n;
          break;
        }
      }
      held = all.slice(all.length - keep);
      return all.slice(0, all.length - keep);
    },
    flush() {
      const rest = held;
      held = '';
      return rest;
    },
  };
}

interface Recorded {
  ctx: ChatContext;
  outcome: ChatOutcome;
  at: number;
}

interface ChatApp {
  url: string;
  records: Recorded[];
  registry: Registry;
  waitForRecord(timeoutMs?: number): Promise<Recorded>;
}

const apps: FastifyInstance[] = [];
const registries: ModelRegistry[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  for (const r of registries.splice(0)) await r.close();
});

const chatModel = (over: Partial<ModelConfig> & { url: string }): ModelConfig =>
  modelSchema.parse({ name: 'chat', kind: 'openai', roles: ['chat'], model: 'upstream-chat', ...over });

async function startChat(
  models: ModelConfig[],
  chat: Partial<ChatConfig> = {},
  recordDelayMs = 0,
): Promise<ChatApp> {
  const records: Recorded[] = [];
  const hooks: ChatHooks = {
    prepare: async (ctx) => ctx.messages,
    createOutputFilter: () => maskingFilter(),
    record: async (ctx, outcome) => {
      if (recordDelayMs) await new Promise((r) => setTimeout(r, recordDelayMs));
      records.push({ ctx, outcome, at: epochMs() });
    },
  };
  const modelRegistry = new ModelRegistry(models, (cfg) =>
    createBackend(cfg.kind, { url: cfg.url, ...(cfg.apiKey ? { apiKey: cfg.apiKey } : {}) }),
  );
  registries.push(modelRegistry);
  const app = Fastify({ logger: false });
  apps.push(app);
  app.setErrorHandler(fastifyErrorHandler);
  const registry = new Registry();
  const service = new ChatService({
    config: chatSchema.parse(chat),
    models: modelRegistry,
    hooks,
    registry,
    log: app.log,
  });
  const handlers = openAiChatHandlers(service);
  app.decorateRequest('identity', undefined);
  app.addHook('onRequest', async (req) => {
    req.identity = { userId: 'u-1', name: 'tester', via: 'api_token' };
  });
  app.post('/v1/chat/completions', handlers['chat.completions']);
  app.get('/v1/models', handlers['chat.models']);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    records,
    registry,
    async waitForRecord(timeoutMs = 2000) {
      const until = Date.now() + timeoutMs;
      while (records.length === 0) {
        if (Date.now() > until) throw new Error('no outcome recorded');
        await new Promise((r) => setTimeout(r, 5));
      }
      return records[0]!;
    },
  };
}

const hello = [{ role: 'user', content: 'Say hello' }];

function post(app: ChatApp, body: unknown, signal?: AbortSignal) {
  return fetch(`${app.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

interface SseItem {
  data?: string;
  comment?: string;
  at: number;
}

/** Reads an SSE body into events, each with its arrival time; `stop` ends reading early. */
async function readSse(res: Response, stop?: (item: SseItem) => boolean): Promise<SseItem[]> {
  const items: SseItem[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const item: SseItem = block.startsWith(':')
        ? { comment: block.slice(1).trim(), at: epochMs() }
        : { data: block.replace(/^data: /, ''), at: epochMs() };
      items.push(item);
      if (stop?.(item)) {
        await reader.cancel();
        return items;
      }
      end = buffer.indexOf('\n\n');
    }
  }
  return items;
}

// biome-ignore lint/suspicious/noExplicitAny: parsed wire JSON, checked field by field
const json = (res: Response): Promise<any> => res.json();
// biome-ignore lint/suspicious/noExplicitAny: parsed wire JSON, checked field by field
const jsonOf = (items: SseItem[]): any[] =>
  items.filter((i) => i.data !== undefined && i.data !== '[DONE]').map((i) => JSON.parse(i.data!));
const contentOf = (items: SseItem[]) =>
  jsonOf(items)
    .map((e) => e.choices?.[0]?.delta?.content ?? '')
    .join('');

describe('wire format', () => {
  it('streams official chat.completion.chunk events ending in [DONE], model mapped both ways', async () => {
    const app = await startChat([chatModel({ url: `${fakeA.url}/v1` })]);
    fakeA.enqueue({ chunks: ['Hel', 'lo', '!'] });
    const res = await post(app, { model: 'chat', messages: hello, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const items = await readSse(res);
    expect(items.at(-1)?.data).toBe('[DONE]');
    const events = jsonOf(items);
    expect(events[0].choices[0].delta.role).toBe('assistant');
    expect(events.every((e) => e.object === 'chat.completion.chunk' && e.model === 'chat')).toBe(true);
    expect(events.every((e) => e.id === 'chatcmpl-fake')).toBe(true);
    expect(contentOf(items)).toBe('Hello!');
    expect(events.at(-1).choices[0].finish_reason).toBe('stop');
    // usage was forced upstream but the client did not ask: no usage chunk
    expect(events.some((e) => e.usage)).toBe(false);
    const sent = fakeA.requests[0]!;
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.body).toMatchObject({
      model: 'upstream-chat',
      stream: true,
      stream_options: { include_usage: true },
      messages: hello,
    });
    const { outcome, ctx } = await app.waitForRecord();
    expect(ctx).toMatchObject({ route: 'openai', model: 'chat', user: { id: 'u-1', name: 'tester' } });
    expect(outcome).toMatchObject({ status: 'ok', model: 'chat', answer: 'Hello!' });
    expect(outcome.usage).toEqual({ promptTokens: 3, completionTokens: 3, estimated: false });
    expect(outcome.firstTokenMs).toBeGreaterThan(0);
  });

  it('passes the usage chunk through when the client asked for it', async () => {
    const app = await startChat([chatModel({ url: `${fakeA.url}/v1` })]);
    fakeA.enqueue({ chunks: ['a', 'b'], usage: { prompt_tokens: 17, completion_tokens: 2 } });
    const res = await post(app, {
      model: 'chat',
      messages: hello,
      stream: true,
      stream_options: { include_usage: true },
    });
    const events = jsonOf(await readSse(res));
    const usage = events.at(-1);
    expect(usage.choices).toEqual([]);
    expect(usage.usage).toEqual({ prompt_tokens: 17, completion_tokens: 2, total_tokens: 19 });
    expect(usage.model).toBe('chat');
  });

  it('answers a non-streaming request with one chat.completion object from the stream', async () => {
    const app = await startChat([chatModel({ url: `${fakeA.url}/v1` })]);
    fakeA.enqueue({ chunks: ['4', '2'], finishReason: 'length' });
    const res = await post(app, { messages: hello });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({
      id: 'chatcmpl-fake',
      object: 'chat.completion',
      created: 1700000000,
      model: 'chat',
      choices: [{ index: 0, message: { role: 'assistant', content: '42' }, finish_reason: 'length' }],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    });
    // one upstream code path: the upstream still streamed
    expect(fakeA.requests[0]!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('passes unknown and OpenAI fields upstream untouched', async () => {
    const app = await startChat([chatModel({ url: `${fakeA.url}/v1` })]);
    const extra = {
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }],
      tool_choice: 'auto',
      response_format: { type: 'json_object' },
      temperature: 0.3,
      max_tokens: 77,
      seed: 5,
      stop: ['END'],
      n: 1,
      user: 'someone',
      x_vendor_knob: { deep: [1, 2] },
      stream_options: { include_usage: false, continuous_usage_stats: true },
    };
    const messages = [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: [{ type: 'text', text: 'hi' }], name: 'bob' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }],
      },
      { role: 'tool', content: 'ok', tool_call_id: 't1' },
    ];
    const res = await post(app, { model: 'chat', messages, stream: true, ...extra });
    await readSse(res);
    const { stream_options: _so, ...rest } = extra;
    expect(fakeA.requests[0]!.body).toEqual({
      model: 'upstream-chat',
      messages,
      stream: true,
      ...rest,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    });
  });

  it('uses the default model when none is named, and lists every model with its roles', async () => {
    const app = await startChat([
      chatModel({ url: `${fakeA.url}/v1` }),
      modelSchema.parse({ name: 'coder', url: `${fakeA.url}/v1`, family: 'starcoder2' }),
      chatModel({ name: 'small', url: `${fakeB.url}/v1`, model: 'tiny' }),
    ]);
    const res = await post(app, { messages: hello });
    expect((await json(res)).model).toBe('chat');
    const models = await json(await fetch(`${app.url}/v1/models`));
    expect(models.object).toBe('list');
    // Every model, with the roles it serves: chat models first (the default first), then completion.
    expect(models.data.map((m: { id: string; roles: string[] }) => [m.id, m.roles])).toEqual([
      ['chat', ['chat']],
      ['small', ['chat']],
      ['coder', ['completion']],
    ]);
    expect(models.data[0]).toMatchObject({ object: 'model', owned_by: 'shenma' });
    expect(typeof models.data[0].created).toBe('number');
  });
});

describe('validation', () => {
  it.each([
    [{}, 'messages'],
    [{ messages: [] }, 'messages'],
    [{ messages: 'hi' }, 'messages'],
    [{ messages: ['hi'] }, 'messages.0'],
    [{ messages: [{ role: 'robot', content: 'x' }] }, 'messages.0.role'],
    [{ messages: [{ role: 'user', content: 5 }] }, 'messages.0.content'],
    [{ messages: hello, stream: 'yes' }, 'stream'],
    [{ messages: hello, stream_options: { include_usage: 'yes' } }, 'stream_options.include_usage'],
    [{ messages: hello, model: 7 }, 'model'],
  ])('400 naming the field for %j', async (body, param) => {
    const app = await startChat([chatModel({ url: `${fakeA.url}/v1` })]);
    const res = await post(app, body);
    expect(res.status).toBe(400);
    const err = (await json(res)).error;
    expect(err.type).toBe('invalid_request_error');
    expect(err.param).toBe(param);
    expect(err.message).toContain(param);
    expect(fakeA.requests).toHaveLength(0);
  });

  it('404 for an unknown model, naming the available ones', async () => {
    const app = await startChat([
      chatModel({ url: `${fakeA.url}/v1` }),
      chatModel({ name: 'small', url: `${fakeB.url}/v1` }),
    ]);
    const res = await post(app, { model: 'gpt-9', messages: hello, stream: true });
    expect(res.status).toBe(404);
    const err = (await json(res)).error;
    expect(err).toMatchObject({ type: 'not_found_error', param: 'model' });
    expect(err.message).toContain('gpt-9');
    expect(err.message).toContain('chat, small');
  });
});

describe('waiting for the first token', () => {
  it('sends keep-alive comments while the first token is slow', async () => {
    const app = await startChat([chatModel({ url: `${fakeA.url}/v1` })], { keepAliveMs: 40 });
    fakeA.enqueue({ chunks: ['late'], ttftMs: 200 });
    const res = await post(app, { messages: hello, stream: true });
    expect(res.status).toBe(200);
    const items = await readSse(res);
    const firstData = items.findIndex((i) => i.data !== undefined);
    const comments = items.slice(0, firstData).filter((i) => i.comment === 'keep-alive');
    expect(comments.length).toBeGreaterThanOrEqual(2);
    expect(items.slice(firstData).some((i) => i.comment)).toBe(false);
    expect(contentOf(items)).toBe('late');
  });

  it('closes the upstream when the client leaves before anything was sent, and records client_cancelled', async () => {
    // No keep-alive comment is due, so nothing written can notice the client is gone.
    const app = await startChat([chatModel({ url: `${fakeA.url}/v1` })], { keepAliveMs: 60_000 });
    fakeA.enqueue({ chunks: ['late'], ttftMs: 5000 });
    const controller = new AbortController();
    const res = post(app, { messages: hello, stream: true }, controller.signal).catch(() => undefined);
    // The client leaves once its request has reached the model, which will not answer for 5 s.
    await fakeA.waitForStreamStart(0, 5000);
    controller.abort();
    await res;
    // Well before the model's first token: Shenma closed the upstream request when the client left.
    const stream = await fakeA.waitForStreamEnd(0, 4000);
    expect(stream.clientClosed).toBe(true);
    expect(stream.chunksWritten).toBe(0);
    const { outcome } = await app.waitForRecord();
    expect(outcome.status).toBe('client_cancelled');
    expect(outcome.answer).toBe('');
  });

  it('answers 504 JSON when the first token is late and nothing was sent yet', async () => {
    const app = await startChat([chatModel({ url: `${fakeA.url}/v1` })], {
      maxRetries: 0,
      timeouts: { firstTokenMs: 100, idleMs: 60_000, totalMs: 600_000 },
    });
    fakeA.enqueue({ chunks: ['x'], fault: { kind: 'stall' } });
    const res = await post(app, { messages: hello, stream: true });
    expect(res.status).toBe(504);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect((await json(res)).error.type).toBe('timeout_error');
    expect((await app.waitForRecord()).outcome.status).toBe('timeout');
    expect((await fakeA.waitForStreamEnd(0, 1000)).clientClosed).toBe(true);
  });
});

describe('retries before the first token', () => {
  it('retries on another replica when one refuses the connection', async () => {
    const app = await startChat([
      chatModel({ url: `http://127.0.0.1:${await closedPort()}/v1` }),
      chatModel({ url: `${fakeA.url}/v1` }),
    ]);
    fakeA.enqueue({ chunks: ['ok'] });
    const res = await post(app, { messages: hello, stream: true });
    expect(res.status).toBe(200);
    expect(contentOf(await readSse(res))).toBe('ok');
    expect(fakeA.requests).toHaveLength(1);
    expect((await app.waitForRecord()).outcome.status).toBe('ok');
    const metrics = await app.registry.getSingleMetricAsString('shenma_chat_retries_total');
    expect(metrics).toContain('to="replica",cause="unreachable"');
  });

  it('retries on another replica when one answers 503 before the first byte', async () => {
    const app = await startChat([
      chatModel({ url: `${fakeA.url}/v1` }),
      chatModel({ url: `${fakeB.url}/v1` }),
    ]);
    fakeA.enqueue({ chunks: ['no'], fault: { kind: 'status', status: 503 } });
    fakeB.enqueue({ chunks: ['from B'] });
    const res = await post(app, { messages: hello, stream: true });
    expect(contentOf(await readSse(res))).toBe('from B');
    expect(fakeA.requests).toHaveLength(1);
    expect(fakeB.requests).toHaveLength(1);
  });

  it('retries after a first-token timeout, dropping the stalled replica', async () => {
    const app = await startChat(
      [chatModel({ url: `${fakeA.url}/v1` }), chatModel({ url: `${fakeB.url}/v1` })],
      {
        timeouts: { firstTokenMs: 150, idleMs: 60_000, totalMs: 600_000 },
      },
    );
    fakeA.enqueue({ chunks: ['x'], fault: { kind: 'stall' } });
    fakeB.enqueue({ chunks: ['B'] });
    const res = await post(app, { messages: hello });
    expect((await json(res)).choices[0].message.content).toBe('B');
    expect((await fakeA.waitForStreamEnd(0, 1000)).clientClosed).toBe(true);
  });

  it('falls back to chat.fallbackModel when the model fails before the first byte', async () => {
    const app = await startChat(
      [
        chatModel({ url: `${fakeA.url}/v1` }),
        chatModel({ name: 'small', url: `${fakeB.url}/v1`, model: 'tiny' }),
      ],
      { fallbackModel: 'small' },
    );
    fakeA.enqueue({ chunks: ['no'], fault: { kind: 'status', status: 500 } });
    fakeB.enqueue({ chunks: ['small ', 'answer'] });
    const res = await post(app, { model: 'chat', messages: hello, stream: true });
    const items = await readSse(res);
    expect(contentOf(items)).toBe('small answer');
    expect(jsonOf(items).every((e) => e.model === 'small')).toBe(true);
    expect(fakeB.requests[0]!.body).toMatchObject({ model: 'tiny' });
    expect((await app.waitForRecord()).outcome).toMatchObject({ status: 'ok', model: 'small' });
  });

  it('does not retry a 400 from the model, and passes its status on', async () => {
    const app = await startChat([
      chatModel({ url: `${fakeA.url}/v1` }),
      chatModel({ url: `${fakeB.url}/v1` }),
    ]);
    fakeA.enqueue({
      chunks: ['x'],
      fault: { kind: 'status', status: 400, body: '{"error":{"message":"context too long"}}' },
    });
    const res = await post(app, { messages: hello, stream: true });
    expect(res.status).toBe(400);
    expect((await json(res)).error.message).toContain('context too long');
    expect(fakeB.requests).toHaveLength(0);
  });

  it.each([401, 403, 404])(
    'answers 502, not %i, when the model refuses Shenma itself (its apiKey, model name or URL)',
    async (status) => {
      const app = await startChat([chatModel({ url: `${fakeA.url}/v1` })]);
      fakeA.enqueue({ chunks: ['x'], fault: { kind: 'status', status } });
      const res = await post(app, { messages: hello, stream: true });
      expect(res.status).toBe(502);
      const body = await json(res);
      expect(body.error.type).toBe('upstream_error');
      // Status and model name only: the backend's own text goes to the log, not to clients.
      expect(body.error.message).toContain(`answered ${status}`);
      expect(body.error.message).not.toContain('fake error');
    },
  );

  it('never retries once the answer started: a cut stream is an SSE error, the other replica gets nothing', async () => {
    const app = await startChat([
      chatModel({ url: `${fakeA.url}/v1` }),
      chatModel({ url: `${fakeB.url}/v1` }),
    ]);
    fakeA.enqueue({
      chunks: ['one ', 'two ', 'three'],
      interChunkMs: 5,
      fault: { kind: 'reset', afterChunks: 2 },
    });
    const res = await post(app, { messages: hello, stream: true });
    expect(res.status).toBe(200);
    const items = await readSse(res);
    expect(contentOf(items)).toBe('one two ');
    const error = jsonOf(items).at(-1);
    expect(error.error.type).toBe('upstream_error');
    expect(error.error.message).toContain('broke off');
    expect(items.at(-1)?.data).toBe('[DONE]');
    expect(fakeB.requests).toHaveLength(0);
    expect((await app.waitForRecord()).outcome).toMatchObject({ status: 'upstream_cut', answer: 'one two ' });
  });
});

describe('mid-answer failures and endings', () => {
  it('ends with an SSE error event and [DONE] when the model goes idle mid-answer', async () => {
    const app = await startChat([chatModel({ url: `${fakeA.url}/v1` })], {
      timeouts: { firstTokenMs: 5000, idleMs: 100, totalMs: 600_000 },
    });
    fakeA.enqueue({ chunks: ['first', ' second'], interChunkMs: 1000 });
    const res = await post(app, { messages: hello, stream: true });
    const items = await readSse(res);
    expect(contentOf(items)).toBe('first');
    expect(jsonOf(items).at(-1).error.type).toBe('timeout_error');
    expect(items.at(-1)?.data).toBe('[DONE]');
    const { outcome } = await app.waitForRecord();
    expect(outcome).toMatchObject({ status: 'timeout', answer: 'first' });
    expect(outcome.usage.estimated).toBe(true);
    expect((await fakeA.waitForStreamEnd(0, 1000)).clientClosed).toBe(true);
  });

  it('a non-streaming request cut mid-answer gets a 502, not a truncated answer', async () => {
    const app = await startChat([chatModel({ url: `${fakeA.url}/v1` })]);
    fakeA.enqueue({ chunks: ['a', 'b', 'c'], fault: { kind: 'reset', afterChunks: 2 } });
    const res = await post(app, { messages: hello });
    expect(res.status).toBe(502);
    expect((await app.waitForRecord()).outcome.status).toBe('upstream_cut');
  });

  it('closes the upstream at once when the client goes away, and records client_cancelled', async () => {
    const app = await startChat([chatModel({ url: `${fakeA.url}/v1` })]);
    fakeA.enqueue({ chunks: Array.from({ length: 400 }, (_, i) => `t${i} `), interChunkMs: 3 });
    const controller = new AbortController();
    const res = await post(app, { messages: hello, stream: true }, controller.signal);
    await readSse(res, (item) => {
      if (item.data?.includes('t2 ')) {
        controller.abort();
        return true;
      }
      return false;
    }).catch(() => []);
    const stream = await fakeA.waitForStreamEnd(0, 2000);
    expect(stream.clientClosed).toBe(true);
    expect(stream.chunksWrittenAfterClientClose).toBeLessThanOrEqual(1);
    expect(stream.chunksRemainingAtClose).toBeGreaterThan(300);
    const { outcome } = await app.waitForRecord();
    expect(outcome.status).toBe('client_cancelled');
    expect(outcome.answer).toMatch(/^t0 t1 t2 /);
    expect(outcome.usage.estimated).toBe(true);
  });

  it('awaits hooks.record before the client hears [DONE]', async () => {
    const app = await startChat([chatModel({ url: `${fakeA.url}/v1` })], {}, 300);
    fakeA.enqueue({ chunks: ['a', 'b'] });
    const res = await post(app, { messages: hello, stream: true });
    const items = await readSse(res);
    const done = items.at(-1)!;
    const finish = items.find((i) => i.data?.includes('"finish_reason":"stop"'))!;
    expect(done.data).toBe('[DONE]');
    expect(app.records).toHaveLength(1);
    expect(app.records[0]!.at).toBeLessThanOrEqual(done.at);
    expect(done.at - finish.at).toBeGreaterThanOrEqual(250);
  });

  it('masks filtered words split across chunk boundaries, in streams and whole answers', async () => {
    const app = await startChat([chatModel({ url: `${fakeA.url}/v1` })]);
    fakeA.enqueue({ chunks: ['the sec', 're', 't is se', 'cret'] });
    const items = await readSse(await post(app, { messages: hello, stream: true }));
    expect(contentOf(items)).toBe('the *** is ***');
    expect(items.some((i) => i.data?.includes('sec'))).toBe(false);
    expect((await app.waitForRecord()).outcome.answer).toBe('the *** is ***');
    fakeA.enqueue({ chunks: ['a secr', 'et'] });
    const whole = await json(await post(app, { messages: hello }));
    expect(whole.choices[0].message.content).toBe('a ***');
  });
});
