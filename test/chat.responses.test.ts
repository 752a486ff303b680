import { createOpenAI } from '@ai-sdk/openai';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * The OpenAI Responses API as clients use it: the official `openai` SDK, the Vercel AI SDK's
 * default OpenAI provider (which speaks Responses) and LangChain's ChatOpenAI with
 * useResponsesApi, against the server `shenma start` runs and the scripted fake model (which
 * speaks Chat Completions, as vLLM and Ollama do).
 */

let fake: FakeModel;
/** A model server that speaks the Responses API itself. */
let native: FakeModel;
let shenma: TestShenma;

beforeAll(async () => {
  fake = await startFakeModel();
  native = await startFakeModel();
  shenma = await startTestShenma({
    models: [
      { name: 'assistant', kind: 'openai', url: `${fake.url}/v1`, roles: ['chat'], model: 'upstream-chat' },
      {
        name: 'native',
        kind: 'openai',
        url: `${native.url}/v1`,
        roles: ['chat'],
        model: 'upstream-native',
        chatApi: 'responses',
      },
    ],
    chat: { contentFilter: { words: ['password123', 'secretproject'] } },
    quotas: { users: { tester: { requestsPerDay: 40 } } },
  });
});
afterAll(async () => {
  await shenma?.close();
  await fake?.close();
  await native?.close();
});
afterEach(() => {
  fake.reset();
  native.reset();
});

const openai = () => new OpenAI({ baseURL: `${shenma.url}/v1`, apiKey: shenma.token, maxRetries: 0 });

/** The Chat Completions bodies the fake model received. */
const upstreamBodies = () =>
  fake.requests
    .filter((r) => r.path === '/v1/chat/completions')
    .map(
      (r) =>
        r.body as {
          messages: { role: string; content: unknown; tool_calls?: unknown; tool_call_id?: string }[];
          [k: string]: unknown;
        },
    );

const ledger = () =>
  shenma.server.db.db
    .selectFrom('usage_ledger')
    .selectAll()
    .where('route', '=', 'responses')
    .orderBy('id')
    .execute();

describe('OpenAI Responses API with the openai SDK', () => {
  it('answers responses.create with instructions, text input and usage', async () => {
    fake.enqueue({
      chunks: ['Hello', ' from', ' Shenma'],
      usage: { prompt_tokens: 11, completion_tokens: 3 },
    });
    const before = (await ledger()).length;
    const r = await openai().responses.create({
      model: 'assistant',
      instructions: 'Answer briefly.',
      input: 'Say hello',
      max_output_tokens: 50,
    });
    expect(r.status).toBe('completed');
    expect(r.output_text).toBe('Hello from Shenma');
    expect(r.model).toBe('assistant');
    expect(r.usage).toMatchObject({ input_tokens: 11, output_tokens: 3, total_tokens: 14 });
    const sent = upstreamBodies()[0]!;
    expect(sent.messages).toEqual([
      { role: 'system', content: 'Answer briefly.' },
      { role: 'user', content: 'Say hello' },
    ]);
    expect(sent['max_tokens']).toBe(50);
    expect(sent['model']).toBe('upstream-chat');
    const rows = await ledger();
    expect(rows.length).toBe(before + 1);
    const metrics = await (await fetch(`${shenma.url}/metrics`)).text();
    expect(metrics).toMatch(/shenma_chat_requests_total\{model="assistant",status="ok"\} [1-9]/);
    expect(rows.at(-1)).toMatchObject({
      user_name: 'tester',
      model: 'assistant',
      status: 'ok',
      prompt_tokens: 11,
    });
  });

  it('streams typed events in order and masks filtered words in the deltas', async () => {
    fake.enqueue({ chunks: ['The ', 'secret', 'project is ', 'fine'] });
    const stream = await openai().responses.create({ model: 'assistant', input: 'Explain', stream: true });
    const types: string[] = [];
    let text = '';
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    expect(types[0]).toBe('response.created');
    expect(types[1]).toBe('response.in_progress');
    expect(types).toContain('response.output_item.added');
    expect(types).toContain('response.content_part.added');
    expect(types.indexOf('response.output_text.done')).toBeLessThan(
      types.indexOf('response.output_item.done'),
    );
    expect(types.at(-1)).toBe('response.completed');
    expect(text).toBe('The *** is fine');
    expect(completed?.output_text ?? completed?.output[0]).toBeTruthy();
    expect(completed?.status).toBe('completed');
  });

  it('continues a stored response with previous_response_id, and not another user’s', async () => {
    fake.enqueue({ chunks: ['Paris'] }, { chunks: ['About 2 million'] });
    const client = openai();
    const first = await client.responses.create({ model: 'assistant', input: 'Capital of France?' });
    const second = await client.responses.create({
      model: 'assistant',
      input: 'Population?',
      previous_response_id: first.id,
    });
    expect(second.output_text).toBe('About 2 million');
    expect(second.previous_response_id).toBe(first.id);
    expect(upstreamBodies()[1]!.messages).toEqual([
      { role: 'user', content: 'Capital of France?' },
      { role: 'assistant', content: 'Paris' },
      { role: 'user', content: 'Population?' },
    ]);
    const unknown = await client.responses
      .create({ model: 'assistant', input: 'x', previous_response_id: 'resp_nope' })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect((unknown as Error).message).toContain('resp_nope');
  });

  it('resolves item_reference to an output item of a stored response', async () => {
    fake.enqueue({ chunks: ['42'] }, { chunks: ['Yes'] });
    const client = openai();
    const first = await client.responses.create({ model: 'assistant', input: 'The answer?' });
    const item = first.output[0]!;
    await client.responses.create({
      model: 'assistant',
      input: [
        { role: 'user', content: 'The answer?' },
        { type: 'item_reference', id: item.id! },
        { role: 'user', content: 'Sure?' },
      ],
    });
    expect(upstreamBodies()[1]!.messages).toEqual([
      { role: 'user', content: 'The answer?' },
      { role: 'assistant', content: '42' },
      { role: 'user', content: 'Sure?' },
    ]);
  });

  it('passes function tools through and returns the call as a function_call item', async () => {
    fake.enqueue({
      chunks: [],
      toolCalls: [{ name: 'get_weather', arguments: '{"city":"Paris"}', id: 'call_1' }],
    });
    fake.enqueue({ chunks: ['It is sunny in Paris.'] });
    const client = openai();
    const tools: OpenAI.Responses.Tool[] = [
      {
        type: 'function',
        name: 'get_weather',
        description: 'Weather by city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        strict: false,
      },
    ];
    const first = await client.responses.create({ model: 'assistant', input: 'Weather in Paris?', tools });
    const call = first.output.find((o) => o.type === 'function_call');
    expect(call).toMatchObject({
      type: 'function_call',
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
      call_id: 'call_1',
    });
    expect(upstreamBodies()[0]!['tools']).toEqual([
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Weather by city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          strict: false,
        },
      },
    ]);
    const second = await client.responses.create({
      model: 'assistant',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: 'call_1', output: '{"sky":"sunny"}' }],
      tools,
    });
    expect(second.output_text).toBe('It is sunny in Paris.');
    expect(upstreamBodies()[1]!.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"sky":"sunny"}' },
    ]);
  });

  it('answers errors in the OpenAI error shape: filtered input, unknown model, bad body, no credentials', async () => {
    const client = openai();
    const filtered = await client.responses
      .create({ model: 'assistant', input: 'my password123' })
      .catch((e: unknown) => e);
    expect(filtered).toBeInstanceOf(OpenAI.BadRequestError);
    const missing = await client.responses.create({ model: 'nope', input: 'hi' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    const bad = await shenma.post('/v1/responses', {
      model: 'assistant',
      input: [{ type: 'web_search_call' }],
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({
      type: 'invalid_request_error',
      param: expect.stringContaining('input'),
    });
    const anon = new OpenAI({ baseURL: `${shenma.url}/v1`, apiKey: 'wrong', maxRetries: 0 });
    const denied = await anon.responses.create({ model: 'assistant', input: 'hi' }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(fake.requests.filter((r) => r.path === '/v1/chat/completions')).toHaveLength(0);
  });

  it('tells a model failure mid-stream as an error event the SDK raises', async () => {
    fake.enqueue({ chunks: ['partial ', 'answer ', 'cut'], fault: { kind: 'reset', afterChunks: 1 } });
    const stream = await openai().responses.create({ model: 'assistant', input: 'go', stream: true });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const e of stream) seen.push(e.type);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(seen).toContain('response.output_text.delta');
  });
});

describe('Vercel AI SDK default OpenAI provider (Responses API)', () => {
  const provider = () => createOpenAI({ baseURL: `${shenma.url}/v1`, apiKey: shenma.token });

  it('generateText and streamText', async () => {
    fake.enqueue({ chunks: ['Generated', ' text'] }, { chunks: ['Streamed', ' text'] });
    const generated = await generateText({ model: provider()('assistant'), prompt: 'hi', maxRetries: 0 });
    expect(generated.text).toBe('Generated text');
    expect(generated.usage.outputTokens).toBeGreaterThan(0);
    const streamed = streamText({ model: provider()('assistant'), prompt: 'hi', maxRetries: 0 });
    let text = '';
    for await (const piece of streamed.textStream) text += piece;
    expect(text).toBe('Streamed text');
    expect(fake.requests.filter((r) => r.path === '/v1/chat/completions')).toHaveLength(2);
  });

  it('runs a tool call round trip', async () => {
    fake.enqueue({ chunks: [], toolCalls: [{ name: 'add', arguments: '{"a":2,"b":3}' }] });
    fake.enqueue({ chunks: ['2 + 3 = 5'] });
    const seen: unknown[] = [];
    const result = await generateText({
      model: provider()('assistant'),
      prompt: 'What is 2 + 3?',
      maxRetries: 0,
      stopWhen: stepCountIs(3),
      tools: {
        add: tool({
          description: 'Adds two numbers',
          inputSchema: jsonSchema<{ a: number; b: number }>({
            type: 'object',
            properties: { a: { type: 'number' }, b: { type: 'number' } },
            required: ['a', 'b'],
          }),
          execute: async (args) => {
            seen.push(args);
            return args.a + args.b;
          },
        }),
      },
    });
    expect(seen).toEqual([{ a: 2, b: 3 }]);
    expect(result.text).toBe('2 + 3 = 5');
    const second = upstreamBodies()[1]!;
    expect(second.messages.find((m) => m.role === 'tool')).toMatchObject({ content: '5' });
  });
});

describe('LangChain ChatOpenAI with useResponsesApi', () => {
  it('invokes and streams', async () => {
    fake.enqueue({ chunks: ['Lang', 'Chain'] }, { chunks: ['Stream', 'ed'] });
    const llm = new ChatOpenAI({
      model: 'assistant',
      apiKey: shenma.token,
      configuration: { baseURL: `${shenma.url}/v1` },
      useResponsesApi: true,
      maxRetries: 0,
    });
    const answer = await llm.invoke('hi');
    expect(answer.text).toBe('LangChain');
    let text = '';
    for await (const chunk of await llm.stream('hi')) text += chunk.text;
    expect(text).toBe('Streamed');
    expect(fake.requests.filter((r) => r.path === '/v1/chat/completions')).toHaveLength(2);
  });

  it('gets tool calls from bindTools', async () => {
    fake.enqueue({
      chunks: [],
      toolCalls: [{ name: 'search', arguments: '{"query":"shenma"}', id: 'call_lc' }],
    });
    const llm = new ChatOpenAI({
      model: 'assistant',
      apiKey: shenma.token,
      configuration: { baseURL: `${shenma.url}/v1` },
      useResponsesApi: true,
      maxRetries: 0,
    }).bindTools([
      {
        type: 'function',
        function: {
          name: 'search',
          description: 'Searches the code base',
          parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
        },
      },
    ]);
    const answer = await llm.invoke('find shenma');
    expect(answer.tool_calls).toEqual([
      expect.objectContaining({ name: 'search', args: { query: 'shenma' }, id: 'call_lc' }),
    ]);
    expect(upstreamBodies()[0]!['tools']).toEqual([
      expect.objectContaining({ type: 'function', function: expect.objectContaining({ name: 'search' }) }),
    ]);
  });
});

describe('a model server that speaks the Responses API (chatApi: responses)', () => {
  const nativeBodies = () =>
    native.requests.filter((r) => r.path === '/v1/responses').map((r) => r.body as Record<string, unknown>);

  it('passes the client’s Responses request through, fields Chat has no word for included', async () => {
    native.enqueue({ chunks: ['Native', ' answer'], usage: { prompt_tokens: 21, completion_tokens: 2 } });
    const stream = await openai().responses.create({
      model: 'native',
      instructions: 'Be brief.',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hi' }] }],
      reasoning: { effort: 'low' },
      include: ['reasoning.encrypted_content'],
      max_output_tokens: 99,
      stream: true,
    });
    let text = '';
    let usage: OpenAI.Responses.ResponseUsage | undefined | null;
    for await (const e of stream) {
      if (e.type === 'response.output_text.delta') text += e.delta;
      if (e.type === 'response.completed') usage = e.response.usage;
    }
    expect(text).toBe('Native answer');
    expect(usage).toMatchObject({ input_tokens: 21, output_tokens: 2 });
    expect(nativeBodies()[0]).toEqual({
      model: 'upstream-native',
      instructions: 'Be brief.',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hi' }] }],
      reasoning: { effort: 'low' },
      include: ['reasoning.encrypted_content'],
      max_output_tokens: 99,
      stream: true,
      store: false,
    });
    expect(upstreamBodies()).toHaveLength(0);
  });

  it('spells out a stored conversation for the server, which never saw Shenma’s response ids', async () => {
    native.enqueue({ chunks: ['Blue'] }, { chunks: ['Because of Rayleigh scattering'] });
    const client = openai();
    const first = await client.responses.create({ model: 'native', input: 'Sky colour?' });
    await client.responses.create({ model: 'native', input: 'Why?', previous_response_id: first.id });
    const second = nativeBodies()[1]!;
    expect(second['previous_response_id']).toBeUndefined();
    expect(second['input']).toEqual([
      { type: 'message', role: 'user', content: 'Sky colour?' },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Blue' }] },
      { type: 'message', role: 'user', content: 'Why?' },
    ]);
  });

  it('serves Chat Completions clients from it too, tool calls included', async () => {
    native.enqueue({ chunks: [], toolCalls: [{ name: 'lookup', arguments: '{"q":"x"}', id: 'call_9' }] });
    const completion = await openai().chat.completions.create({
      model: 'native',
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'find x' },
      ],
      tools: [
        { type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } },
      ],
      max_tokens: 40,
    });
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
    expect(completion.choices[0]!.message.tool_calls).toEqual([
      { id: 'call_9', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } },
    ]);
    expect(nativeBodies()[0]).toMatchObject({
      model: 'upstream-native',
      input: [
        { type: 'message', role: 'system', content: 'sys' },
        { type: 'message', role: 'user', content: 'find x' },
      ],
      tools: [{ type: 'function', name: 'lookup', parameters: { type: 'object', properties: {} } }],
      max_output_tokens: 40,
      stream: true,
      store: false,
    });
  });
});
