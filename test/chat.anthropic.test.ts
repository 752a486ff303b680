import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore, UserStore } from '../src/identity/users.js';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * The Anthropic Messages API with the official `@anthropic-ai/sdk` (which sends the key as
 * x-api-key and an anthropic-version header), against the server `shenma start` runs and the
 * scripted fake model speaking Chat Completions.
 */

let fake: FakeModel;
let shenma: TestShenma;

beforeAll(async () => {
  fake = await startFakeModel();
  shenma = await startTestShenma({
    models: [
      { name: 'coder', kind: 'openai', url: `${fake.url}/v1`, roles: ['chat'], model: 'upstream-coder' },
    ],
    chat: {
      contentFilter: { words: ['password123', 'secretproject'] },
      timeouts: { firstTokenMs: 1500 },
      maxRetries: 0,
    },
    quotas: { users: { limited: { requestsPerDay: 1 } } },
  });
});
afterAll(async () => {
  await shenma?.close();
  await fake?.close();
});
afterEach(() => fake.reset());

const client = (apiKey = shenma.token) => new Anthropic({ baseURL: shenma.url, apiKey, maxRetries: 0 });

const upstreamBodies = () =>
  fake.requests
    .filter((r) => r.path === '/v1/chat/completions')
    .map((r) => r.body as Record<string, unknown>);

describe('Anthropic Messages API with @anthropic-ai/sdk', () => {
  it('messages.create with a system prompt: text, stop reason, usage, ledger row', async () => {
    fake.enqueue({ chunks: ['Hi', ' there'], usage: { prompt_tokens: 9, completion_tokens: 2 } });
    const message = await client().messages.create({
      model: 'coder',
      max_tokens: 64,
      system: 'You are terse.',
      messages: [{ role: 'user', content: 'Hello' }],
      stop_sequences: ['###'],
    });
    expect(message.type).toBe('message');
    expect(message.role).toBe('assistant');
    expect(message.content).toEqual([{ type: 'text', text: 'Hi there' }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage).toMatchObject({ input_tokens: 9, output_tokens: 2 });
    const sent = upstreamBodies()[0]!;
    expect(sent['messages']).toEqual([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Hello' },
    ]);
    expect(sent).toMatchObject({ max_tokens: 64, stop: ['###'], model: 'upstream-coder' });
    const rows = await shenma.server.db.db
      .selectFrom('usage_ledger')
      .selectAll()
      .where('route', '=', 'anthropic')
      .execute();
    expect(rows.at(-1)).toMatchObject({
      user_name: 'tester',
      model: 'coder',
      status: 'ok',
      completion_tokens: 2,
    });
  });

  it('streams message_start, content_block_delta and message_stop; the SDK assembles the message', async () => {
    fake.enqueue({ chunks: ['The ', 'secret', 'project ', 'works'] });
    const stream = client().messages.stream({
      model: 'coder',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'status?' }],
    });
    const types: string[] = [];
    let text = '';
    stream.on('streamEvent', (e) => types.push(e.type));
    stream.on('text', (t) => {
      text += t;
    });
    const final = await stream.finalMessage();
    expect(types[0]).toBe('message_start');
    expect(types).toContain('content_block_start');
    expect(types).toContain('content_block_delta');
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(text).toBe('The *** works');
    expect(final.content).toEqual([{ type: 'text', text: 'The *** works' }]);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBeGreaterThan(0);
  });

  it('runs a tool round trip: tool_use out, tool_result back as a tool message', async () => {
    fake.enqueue({
      chunks: ['Let me check.'],
      toolCalls: [{ name: 'read_file', arguments: '{"path":"src/a.ts"}', id: 'toolu_1' }],
    });
    fake.enqueue({ chunks: ['The file exports a.'] });
    const tools: Anthropic.Tool[] = [
      {
        name: 'read_file',
        description: 'Reads a file',
        input_schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
      },
    ];
    const question: Anthropic.MessageParam = { role: 'user', content: 'What does src/a.ts export?' };
    const stream = client().messages.stream({ model: 'coder', max_tokens: 200, tools, messages: [question] });
    const first = await stream.finalMessage();
    expect(first.stop_reason).toBe('tool_use');
    expect(first.content).toEqual([
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_use', id: 'toolu_1', name: 'read_file', input: { path: 'src/a.ts' } },
    ]);
    expect(upstreamBodies()[0]!['tools']).toEqual([
      {
        type: 'function',
        function: {
          name: 'read_file',
          description: 'Reads a file',
          parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
        },
      },
    ]);
    const second = await client().messages.create({
      model: 'coder',
      max_tokens: 200,
      tools,
      tool_choice: { type: 'auto' },
      messages: [
        question,
        { role: 'assistant', content: first.content },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'export const a = 1;' }],
        },
      ],
    });
    expect(second.content).toEqual([{ type: 'text', text: 'The file exports a.' }]);
    expect(upstreamBodies()[1]!['messages']).toEqual([
      { role: 'user', content: 'What does src/a.ts export?' },
      {
        role: 'assistant',
        content: 'Let me check.',
        tool_calls: [
          {
            id: 'toolu_1',
            type: 'function',
            function: { name: 'read_file', arguments: '{"path":"src/a.ts"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_1', content: 'export const a = 1;' },
    ]);
    expect(upstreamBodies()[1]!['tool_choice']).toBe('auto');
  });

  it('counts tokens with the estimate, without calling the model', async () => {
    const short = await client().messages.countTokens({
      model: 'coder',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const long = await client().messages.countTokens({
      model: 'coder',
      system: 'x'.repeat(300),
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(short.input_tokens).toBeGreaterThan(0);
    expect(long.input_tokens).toBeGreaterThanOrEqual(short.input_tokens + 100);
    expect(upstreamBodies()).toHaveLength(0);
  });

  it('answers errors in Anthropic’s shape, which the SDK maps to its error classes', async () => {
    const denied = await client('not-a-key')
      .messages.create({ model: 'coder', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(Anthropic.AuthenticationError);
    const missing = await client()
      .messages.create({
        model: 'claude-from-the-client',
        max_tokens: 8,
        messages: [{ role: 'user', content: 'hi' }],
      })
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect((missing as Error).message).toContain('available: coder');
    const filtered = await client()
      .messages.create({
        model: 'coder',
        max_tokens: 8,
        messages: [{ role: 'user', content: 'password123' }],
      })
      .catch((e: unknown) => e);
    expect(filtered).toBeInstanceOf(Anthropic.BadRequestError);
    const raw = await shenma.post(
      '/v1/messages',
      { model: 'coder', messages: [] },
      { 'x-api-key': shenma.token },
    );
    expect(raw.status).toBe(400);
    expect(await raw.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const unauthenticated = await shenma.post(
      '/v1/messages',
      { model: 'coder' },
      { 'x-api-key': 'sk-wrong' },
    );
    expect(unauthenticated.status).toBe(401);
    expect(await unauthenticated.json()).toMatchObject({
      type: 'error',
      error: { type: 'authentication_error' },
    });
    // A tool result's content is the client's own data: a wrong shape is a 400 naming it, not a 500.
    for (const path of ['/v1/messages', '/v1/messages/count_tokens']) {
      const badToolResult = await shenma.post(
        path,
        {
          model: 'coder',
          max_tokens: 8,
          messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'x', content: 5 }] }],
        },
        { 'x-api-key': shenma.token },
      );
      expect(badToolResult.status, path).toBe(400);
      expect(await badToolResult.json()).toMatchObject({
        type: 'error',
        error: {
          type: 'invalid_request_error',
          message: expect.stringContaining('messages.0.content.0.content'),
        },
      });
    }
    const badJson = await shenma.post('/v1/messages', '{"model":', { 'x-api-key': shenma.token });
    expect(await badJson.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(upstreamBodies()).toHaveLength(0);
  });

  it('tells a failure after the stream began as an error event the SDK raises', async () => {
    fake.enqueue({ chunks: ['partial ', 'answer ', 'cut'], fault: { kind: 'reset', afterChunks: 1 } });
    const stream = client().messages.stream({
      model: 'coder',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'go' }],
    });
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as Error).message).toContain('broke off');
  });

  it('lists the chat models in Anthropic’s shape for Anthropic clients (OpenAI’s for the others)', async () => {
    const page = await client().models.list();
    expect(page.data.map((m) => m.id)).toEqual(['coder']);
    expect(page.data[0]).toMatchObject({ type: 'model', display_name: 'coder' });
    expect((await (await shenma.get('/v1/models')).json()).object).toBe('list');
  });

  it('holds Anthropic clients to the same daily quota, refused as a rate_limit_error', async () => {
    await new UserStore(shenma.server.db.db).add('limited', 'limited-password-1');
    const { secret } = await new TokenStore(shenma.server.db.db).create('limited', { name: 'tests' });
    fake.enqueue({ chunks: ['one'] });
    const ask = () =>
      client(secret).messages.create({
        model: 'coder',
        max_tokens: 8,
        messages: [{ role: 'user', content: 'hi' }],
      });
    expect((await ask()).content).toEqual([{ type: 'text', text: 'one' }]);
    const refused = await ask().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    expect(
      (refused as InstanceType<typeof Anthropic.RateLimitError>).headers.get('retry-after'),
    ).toBeTruthy();
    expect(upstreamBodies()).toHaveLength(1);
  });

  it('keeps the chat deadlines: no first token in time is a timeout_error', async () => {
    fake.enqueue({ chunks: ['late'], fault: { kind: 'hang' } });
    const res = await shenma.post(
      '/v1/messages',
      { model: 'coder', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] },
      { 'x-api-key': shenma.token, 'anthropic-version': '2023-06-01' },
    );
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'timeout_error' } });
  });
});
