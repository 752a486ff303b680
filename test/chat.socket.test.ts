import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS, detectLocale, renderActionPrompt } from '../src/chat/actions/index.js';
import { ChatService } from '../src/chat/service.js';
import { advisesFor } from '../src/chat/socket/advise.js';
import {
  attachSocketChat,
  INTERRUPTED,
  MemoryResumeStore,
  MISSING_TOKEN,
  type SocketChat,
} from '../src/chat/socket/index.js';
import type { ChatContext, ChatHooks, ChatMessage, ChatOutcome } from '../src/chat/types.js';
import { type ChatConfig, chatSchema, type ModelConfig, modelSchema } from '../src/config/schema.js';
import { AuthenticationError } from '../src/http/authentication-error.js';
import { HttpError } from '../src/http/errors.js';
import type { Identity } from '../src/http/identity.js';
import { TokenStore, type User, UserStore } from '../src/identity/users.js';
import { createBackend, ModelRegistry } from '../src/models/index.js';
import { type Database, openDatabase } from '../src/storage/database.js';
import { migrate } from '../src/storage/migrate.js';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { seedEmbeddedDatabase } from './support/embedded-template.js';
import { reachableTempDir } from './support/temp-dir.js';

/**
 * The extension's Socket.IO chat end to end, with the Socket.IO client version the extension
 * bundles (4.0.1, websocket only): a real ChatService over a real ModelRegistry pointing at the
 * fake model, in-test hooks recording outcomes, and credentials checked against real API tokens
 * in a TokenStore on the embedded PostgreSQL. The lead's wiring in src/chat/role.ts (real hooks, the JWT
 * authenticator, the shared HTTP server) is tested elsewhere.
 */

// socket.io-client 4.0.1 ships types for its CommonJS build only; the ESM wrapper has none.
type SocketIoClient = typeof import('socket.io-client', { with: { 'resolution-mode': 'require' }});
const { io } = createRequire(import.meta.url)('socket.io-client') as SocketIoClient;
type Socket = InstanceType<SocketIoClient['Socket']>;

let fake: FakeModel;
let dataDir: string;
let database: Database;
let tokens: TokenStore;
let alice: User;
let bob: User;
let aliceToken: string;
let bobToken: string;

beforeAll(async () => {
  fake = await startFakeModel();
  dataDir = reachableTempDir('shenma-socket-chat-');
  await seedEmbeddedDatabase(dataDir);
  database = await openDatabase({ dataDir });
  await migrate(database.db);
  const users = new UserStore(database.db);
  tokens = new TokenStore(database.db);
  alice = await users.add('alice', undefined);
  bob = await users.add('bob', undefined);
  aliceToken = (await tokens.create('alice', {})).secret;
  bobToken = (await tokens.create('bob', {})).secret;
}, 60_000);

afterAll(async () => {
  await fake?.close();
  await database?.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** The API-token half of the real authenticator: the JWT half is tested in src/identity. */
async function authenticateToken(token: string): Promise<Identity> {
  const found = await tokens.verify(token);
  if (!found)
    throw new AuthenticationError('API token revoked, expired or unknown (or its user is disabled)');
  return { userId: found.user.id, name: found.user.name, via: 'api_token' };
}

interface Recorded {
  ctx: ChatContext;
  outcome: ChatOutcome;
}

interface ChatServer {
  url: string;
  records: Recorded[];
  resume: MemoryResumeStore;
  chat: SocketChat;
  waitForRecords(n: number, timeoutMs?: number): Promise<Recorded[]>;
}

const cleanups: (() => Promise<void>)[] = [];
const clients: Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  fake.reset();
});

const chatModel = (over: Partial<ModelConfig> = {}): ModelConfig =>
  modelSchema.parse({
    name: 'chat',
    kind: 'openai',
    roles: ['chat'],
    url: `${fake.url}/v1`,
    model: 'up',
    ...over,
  });

async function until<T>(
  get: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 3000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await get();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function startServer(
  chat: Partial<ChatConfig> = {},
  prepare: ChatHooks['prepare'] = async (ctx) => ctx.messages,
): Promise<ChatServer> {
  const records: Recorded[] = [];
  const log = pino({ level: 'silent' });
  const models = new ModelRegistry([chatModel()], (cfg) => createBackend(cfg.kind, { url: cfg.url }));
  const config = chatSchema.parse({ maxRetries: 0, ...chat });
  const service = new ChatService({
    config,
    models,
    hooks: {
      prepare,
      createOutputFilter: () => ({ push: (t) => t, flush: () => '' }),
      record: async (ctx, outcome) => {
        records.push({ ctx, outcome });
      },
    },
    registry: new Registry(),
    log,
  });
  const resume = new MemoryResumeStore({ ttlMs: config.resumeTtlMs });
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  const socketChat = attachSocketChat(server, { service, authenticateToken, config, resume, log });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    await socketChat.close();
    await new Promise((r) => server.close(r));
    await models.close();
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    records,
    resume,
    chat: socketChat,
    waitForRecords: (n, timeoutMs) =>
      until(() => (records.length >= n ? records : undefined), `${n} outcome(s)`, timeoutMs),
  };
}

interface Received {
  event: string;
  // biome-ignore lint/suspicious/noExplicitAny: wire JSON, checked field by field
  data: any;
}

/** A client as the extension makes it, recording every event in arrival order. */
function connect(
  url: string,
  auth: Record<string, unknown> | undefined,
  opts: { namespace?: string; reconnection?: boolean } = {},
) {
  const socket = io(`${url}${opts.namespace ?? '/chat'}`, {
    ...(auth ? { auth } : {}),
    transports: ['websocket'],
    forceNew: true,
    reconnection: opts.reconnection ?? false,
    reconnectionDelay: 20,
    reconnectionDelayMax: 20,
  });
  clients.push(socket);
  const received: Received[] = [];
  socket.onAny((event: string, data: unknown) => received.push({ event, data }));
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const waitFor = (pred: (r: Received[]) => boolean, what: string, timeoutMs?: number) =>
    until(() => (pred(received) ? received : undefined), what, timeoutMs);
  return {
    socket,
    received,
    connected,
    waitFor,
    /** Everything up to and including the first `[DONE]` or `error`. */
    untilEnd: (timeoutMs?: number) =>
      waitFor((r) => r.some(isEnd), 'the end of the answer', timeoutMs).then(() => [...received]),
  };
}

const isEnd = (r: Received) => r.event === 'error' || (r.event === 'message' && r.data === '[DONE]');
const jsonOf = (received: Received[]) => received.filter((r) => r.event === 'json').map((r) => r.data);
const answerOf = (received: Received[]) =>
  jsonOf(received)
    .filter((j) => j.event === 'dify_agent_thought')
    .map((j) => j.dify_chunk.answer)
    .join('');

const question = (over: Record<string, unknown> = {}) => ({
  language: 'python',
  filePath: '/home/u/proj/app.py',
  code: 'def add(a, b):\n    return a + b',
  stream: true,
  conversation_id: 'conv-1b9d6bcd',
  action: 'explain',
  prompt: '解释代码实现',
  context_association: true,
  callType: 'funcHead',
  range: { startLine: 1, endLine: 2 },
  ...over,
});

/** The client's TCP connection (engine.io-client on Node: a `ws` WebSocket over a net.Socket). */
function rawSocketOf(socket: Socket): { pause(): void; destroy(): void } {
  const engine = socket.io.engine as unknown as {
    transport: { ws: { _socket: { pause(): void; destroy(): void } } };
  };
  return engine.transport.ws._socket;
}

/** The messages the fake model was sent for its `index`th request. */
const upstreamMessages = (index: number) =>
  (fake.requests[index]!.body as { messages: ChatMessage[] }).messages;

describe('connect', () => {
  it('refuses a connection without credentials, saying what to send', async () => {
    const server = await startServer();
    const client = connect(server.url, undefined);
    const err = await client.connected.then(
      () => undefined,
      (e: Error & { data?: unknown }) => e,
    );
    expect(err?.message).toBe(MISSING_TOKEN);
    expect(err?.data).toEqual({ status: 401 });
  });

  it('refuses a bad token', async () => {
    const server = await startServer();
    const client = connect(server.url, { token: 'shm_not-a-real-token' });
    const err = await client.connected.then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toBe(
      'authentication failed: API token revoked, expired or unknown (or its user is disabled)',
    );
  });

  it('accepts the token as auth.token or auth["api-key"], with the extension\'s other auth fields', async () => {
    const server = await startServer();
    const a = connect(server.url, { username: 'x', display_name: 'X', token: aliceToken, ide: 'vscode' });
    await a.connected;
    const b = connect(server.url, { 'api-key': bobToken });
    await b.connected;
  });

  it('serves the //chat and /chat/ namespaces a base URL with a trailing slash produces', async () => {
    const server = await startServer();
    for (const namespace of ['//chat', '/chat/']) {
      fake.enqueue({ chunks: ['ok'] });
      const client = connect(server.url, { token: aliceToken }, { namespace });
      await client.connected;
      client.socket.emit('chat', question());
      const received = await client.untilEnd();
      expect(answerOf(received)).toBe('ok');
      expect(received.at(-1)).toEqual({ event: 'message', data: '[DONE]' });
    }
  });

  it('answers ping with message "pong"', async () => {
    const server = await startServer();
    const client = connect(server.url, { token: aliceToken });
    await client.connected;
    client.socket.emit('ping', 1);
    await client.waitFor((r) => r.length > 0, 'pong');
    expect(client.received).toEqual([{ event: 'message', data: 'pong' }]);
  });
});

describe('chat', () => {
  it('streams updateChatId, agent_start, incremental answers, agent_end and [DONE], in order', async () => {
    const server = await startServer({ agentName: '诸葛神码' });
    fake.enqueue({ chunks: ['Hel', 'lo', ' wor', 'ld!'] });
    const client = connect(server.url, { token: aliceToken });
    await client.connected;
    client.socket.emit('chat', question());
    const received = await client.untilEnd();

    expect(received[0]!.event).toBe('updateChatId');
    const chatId: string = received[0]!.data;
    expect(chatId).toMatch(/^[0-9a-f-]{36}$/);
    expect(chatId).not.toBe(client.socket.id);
    const thought = (answer: string, offset: number) => ({
      event: 'json',
      data: {
        event: 'dify_agent_thought',
        agent_name: '诸葛神码',
        agent_icon: null,
        dify_chunk: { event: 'message', answer, message_id: chatId },
        offset,
      },
    });
    expect(received.slice(1)).toEqual([
      {
        event: 'json',
        data: {
          event: 'agent_start',
          agent_name: '诸葛神码',
          agent_icon: null,
          message: '',
          increment: false,
          offset: 1,
        },
      },
      thought('Hel', 2),
      thought('lo', 3),
      thought(' wor', 4),
      thought('ld!', 5),
      { event: 'json', data: { event: 'agent_end', offset: 6 } },
      { event: 'message', data: '[DONE]' },
    ]);

    const { ctx, outcome } = (await server.waitForRecords(1))[0]!;
    expect(ctx).toMatchObject({
      requestId: chatId,
      route: 'socket',
      model: 'chat',
      user: { id: alice.id, name: 'alice' },
      conversationId: 'conv-1b9d6bcd',
    });
    expect(outcome).toMatchObject({ status: 'ok', answer: 'Hello world!' });
    // What was emitted is what is kept for rechat.
    const kept = await server.resume.read(chatId, 0);
    expect(kept?.owner).toBe(alice.id);
    expect(kept?.items.map(({ event, data }) => ({ event, data }))).toEqual(received.slice(1));
  });

  it('sends each action to the model as its prompt template', async () => {
    const server = await startServer();
    const client = connect(server.url, { token: aliceToken });
    await client.connected;
    const asked = [...ACTIONS, 'shenmaInstructSet'];
    for (const [i, action] of asked.entries()) {
      const prompt = i % 2 === 0 ? '请看看这段代码' : 'Look at this code';
      fake.enqueue({ chunks: [action] });
      client.received.length = 0;
      client.socket.emit('chat', question({ action, prompt }));
      expect(answerOf(await client.untilEnd())).toBe(action);
      const expected = renderActionPrompt({
        action,
        prompt,
        code: 'def add(a, b):\n    return a + b',
        language: 'python',
        filePath: '/home/u/proj/app.py',
        locale: detectLocale(prompt),
      });
      expect(upstreamMessages(i)).toEqual([
        { role: 'system', content: expected.system },
        { role: 'user', content: expected.user },
      ]);
    }
  });

  it('uses chat.systemPrompt for free-form chat only', async () => {
    const server = await startServer({ systemPrompt: 'Be brief.' });
    const client = connect(server.url, { token: aliceToken });
    await client.connected;
    fake.enqueue({ chunks: ['a'] }, { chunks: ['b'] });
    client.socket.emit('chat', question({ action: 'chat', prompt: 'Why?', code: '' }));
    await client.untilEnd();
    client.received.length = 0;
    client.socket.emit('chat', question({ action: 'explain' }));
    await client.untilEnd();
    expect(upstreamMessages(0)).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Why?' },
    ]);
    expect(upstreamMessages(1)[0]!.content).not.toBe('Be brief.');
  });

  it('sends action-aware agent_advise before agent_end when chat.advise is on', async () => {
    const server = await startServer({ advise: true });
    fake.enqueue({ chunks: ['x'] });
    const client = connect(server.url, { token: aliceToken });
    await client.connected;
    client.socket.emit(
      'chat',
      question({ action: 'addTests', prompt: 'Generate unit tests for this function' }),
    );
    const events = jsonOf(await client.untilEnd());
    expect(events.map((e) => e.event)).toEqual([
      'agent_start',
      'dify_agent_thought',
      'agent_advise',
      'agent_end',
    ]);
    expect(events[2]).toEqual({ event: 'agent_advise', advises: advisesFor('addTests', 'en'), offset: 3 });
    expect(events[3].offset).toBe(4);
  });

  it('answers an invalid payload with an error event and nothing else', async () => {
    const server = await startServer();
    const client = connect(server.url, { token: aliceToken });
    await client.connected;
    client.socket.emit('chat', { action: 'explain', prompt: 42 });
    await client.waitFor((r) => r.length > 0, 'an error');
    client.socket.emit('chat', { action: 'chat', prompt: '  ', code: '' });
    await client.waitFor((r) => r.length > 1, 'a second error');
    expect(client.received).toEqual([
      {
        event: 'error',
        data: 'invalid chat request: prompt: Invalid input: expected string, received number',
      },
      { event: 'error', data: 'invalid chat request: prompt: prompt and code are both empty' },
    ]);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('failures', () => {
  it('reports an upstream failure before the answer as an error event, not as answer text', async () => {
    const server = await startServer();
    fake.enqueue({ chunks: ['never'], fault: { kind: 'status', status: 500 } });
    const client = connect(server.url, { token: aliceToken });
    await client.connected;
    client.socket.emit('chat', question());
    const received = await client.untilEnd();
    expect(received.map((r) => r.event)).toEqual(['updateChatId', 'error']);
    expect(received[1]!.data).toMatch(/^model "chat" failed: /);
    expect((await server.waitForRecords(1))[0]!.outcome.status).toBe('upstream_error');
  });

  it('reports a mid-answer break as an error event after the partial answer, without [DONE]', async () => {
    const server = await startServer();
    fake.enqueue({ chunks: ['a', 'b', 'c', 'd'], fault: { kind: 'reset', afterChunks: 2 } });
    const client = connect(server.url, { token: aliceToken });
    await client.connected;
    client.socket.emit('chat', question());
    const received = await client.untilEnd();
    expect(answerOf(received)).toBe('ab');
    expect(received.at(-1)).toEqual({ event: 'error', data: expect.stringMatching(/broke off the answer/) });
    expect(received.some((r) => r.event === 'message')).toBe(false);
    expect(jsonOf(received).some((j) => j.event === 'agent_end')).toBe(false);
  });

  it('reports a refused request (quota) as an error event with the retry time', async () => {
    const server = await startServer({}, async () => {
      throw new HttpError(429, 'rate_limit_error', 'daily token quota spent', undefined, 29.5);
    });
    const client = connect(server.url, { token: aliceToken });
    await client.connected;
    client.socket.emit('chat', question());
    const received = await client.untilEnd();
    expect(received.map((r) => r.event)).toEqual(['updateChatId', 'error']);
    expect(received[1]!.data).toBe('daily token quota spent (retry after 30 s)');
    expect(fake.requests).toHaveLength(0);
  });

  it('aborts the upstream request when the client disconnects', async () => {
    const server = await startServer();
    fake.enqueue({ chunks: Array.from({ length: 200 }, (_, i) => `t${i} `), interChunkMs: 10 });
    const client = connect(server.url, { token: aliceToken });
    await client.connected;
    client.socket.emit('chat', question());
    await client.waitFor((r) => answerOf(r).length > 0, 'the first text');
    client.socket.disconnect();
    const stream = await fake.waitForStreamEnd(0, 2000);
    expect(stream.clientClosed).toBe(true);
    expect(stream.chunksRemainingAtClose).toBeGreaterThan(100);
    const { ctx, outcome } = (await server.waitForRecords(1))[0]!;
    expect(outcome.status).toBe('client_cancelled');
    // The chat's buffer ends as a rechat will see it.
    const last = await until(
      async () => (await server.resume.read(ctx.requestId, 0))?.items.find((i) => i.event !== 'json'),
      'the end of the kept chat',
    );
    expect(last).toMatchObject({ event: 'error', data: INTERRUPTED });
  });

  it('close() aborts running answers', async () => {
    const server = await startServer();
    fake.enqueue({ chunks: Array.from({ length: 200 }, (_, i) => `t${i} `), interChunkMs: 10 });
    const client = connect(server.url, { token: aliceToken });
    await client.connected;
    client.socket.emit('chat', question());
    await client.waitFor((r) => answerOf(r).length > 0, 'the first text');
    await server.chat.close();
    expect((await fake.waitForStreamEnd(0, 2000)).clientClosed).toBe(true);
    expect(server.records[0]?.outcome.status).toBe('client_cancelled');
  });
});

describe('rechat', () => {
  const slowAnswer = () => ({ chunks: Array.from({ length: 60 }, (_, i) => `w${i} `), interChunkMs: 15 });
  const fullText = Array.from({ length: 60 }, (_, i) => `w${i} `).join('');

  it('after a network blip, replays exactly the missing items and ends with "interrupted"', async () => {
    const server = await startServer();
    fake.enqueue(slowAnswer());
    const client = connect(server.url, { token: aliceToken }, { reconnection: true });
    await client.connected;
    // What the extension does: remember the chat id and the last json offset, and send rechat
    // 1 s after a reconnect (here 100 ms: long enough for the server to see the old socket go).
    let chatId = '';
    let lastOffset = 0;
    let reconnected = false;
    client.socket.on('updateChatId', (id: string) => {
      chatId = id;
    });
    client.socket.on('json', (item: { offset: number }) => {
      lastOffset = item.offset;
    });
    client.socket.on('connect', () => {
      reconnected = true;
      setTimeout(() => client.socket.emit('rechat', { chat_id: chatId, offset: lastOffset }), 100);
    });
    client.socket.emit('chat', question());
    await client.waitFor((r) => jsonOf(r).length >= 4, 'some answer');
    // The blip: the client stops reading while the server goes on sending, then the connection
    // dies with those items unread. The client reconnects on its own.
    const tcp = rawSocketOf(client.socket);
    tcp.pause();
    const seenBefore = client.received.length;
    const lastSeen = lastOffset;
    await new Promise((r) => setTimeout(r, 150));
    tcp.destroy();
    const received = await client.untilEnd(5000);
    expect(reconnected).toBe(true);
    expect(client.received.slice(0, seenBefore)).toEqual(received.slice(0, seenBefore));

    // The socket dropped, so the upstream request was aborted, not left generating.
    expect((await fake.waitForStreamEnd(0, 2000)).clientClosed).toBe(true);
    expect((await server.waitForRecords(1))[0]!.outcome.status).toBe('client_cancelled');
    // The replay is exactly what was kept after the last offset seen, including the items sent
    // into the dead connection; every json item arrived exactly once, in order.
    const kept = await server.resume.read(chatId, lastSeen);
    const replayed = received.slice(seenBefore);
    expect(replayed).toEqual(kept!.items.map(({ event, data }) => ({ event, data })));
    expect(jsonOf(replayed).length).toBeGreaterThan(2);
    const offsets = jsonOf(received).map((j) => j.offset);
    expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => i + 1));
    expect(received.at(-1)).toEqual({ event: 'error', data: INTERRUPTED });
    expect(fullText.startsWith(answerOf(received))).toBe(true);
    expect(answerOf(received).length).toBeLessThan(fullText.length);
  });

  it('follows a running answer live from another socket of the same user, which keeps it running', async () => {
    const server = await startServer();
    fake.enqueue(slowAnswer());
    const first = connect(server.url, { token: aliceToken });
    await first.connected;
    first.socket.emit('chat', question());
    await first.waitFor((r) => jsonOf(r).length >= 3, 'some answer');
    const chatId: string = first.received[0]!.data;
    const second = connect(server.url, { token: aliceToken });
    await second.connected;
    second.socket.emit('rechat', { chat_id: chatId, offset: 1 });
    await second.waitFor((r) => r.length >= 3, 'the replay');
    // The asking socket goes away: the answer continues for the one still following it.
    first.socket.disconnect();
    const received = await second.untilEnd(5000);
    expect(received.at(-1)).toEqual({ event: 'message', data: '[DONE]' });
    const offsets = jsonOf(received).map((j) => j.offset);
    expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => i + 2));
    expect(answerOf(received)).toBe(fullText);
    expect((await server.waitForRecords(1))[0]!.outcome.status).toBe('ok');
  });

  it('replays a finished chat after the given offset, ending with [DONE]', async () => {
    const server = await startServer();
    fake.enqueue({ chunks: ['a', 'b', 'c'] });
    const first = connect(server.url, { token: aliceToken });
    await first.connected;
    first.socket.emit('chat', question());
    const original = await first.untilEnd();
    await server.waitForRecords(1);
    const again = connect(server.url, { token: aliceToken });
    await again.connected;
    again.socket.emit('rechat', { chat_id: original[0]!.data, offset: 2 });
    const replayed = await again.untilEnd();
    // updateChatId, agent_start, a (offset 2) were seen; b, c, agent_end, [DONE] were not.
    expect(replayed).toEqual(original.slice(3));
  });

  it("refuses another user's chat, running or finished, with only an error", async () => {
    const server = await startServer();
    fake.enqueue(slowAnswer());
    const owner = connect(server.url, { token: aliceToken });
    await owner.connected;
    owner.socket.emit('chat', question());
    await owner.waitFor((r) => jsonOf(r).length >= 2, 'some answer');
    const chatId: string = owner.received[0]!.data;

    const other = connect(server.url, { token: bobToken });
    await other.connected;
    other.socket.emit('rechat', { chat_id: chatId, offset: 0 });
    await other.waitFor((r) => r.length > 0, 'the refusal');
    await owner.untilEnd(5000);
    await server.waitForRecords(1);
    other.socket.emit('rechat', { chat_id: chatId, offset: 0 });
    await other.waitFor((r) => r.length > 1, 'the second refusal');
    await new Promise((r) => setTimeout(r, 50));
    expect(other.received).toEqual([
      { event: 'error', data: 'not your chat' },
      { event: 'error', data: 'not your chat' },
    ]);
    expect(bob.id).not.toBe(alice.id);
  });

  it('answers an unknown chat id or a bad rechat payload with an error', async () => {
    const server = await startServer();
    const client = connect(server.url, { token: aliceToken });
    await client.connected;
    client.socket.emit('rechat', { chat_id: 'no-such-chat', offset: 3 });
    await client.waitFor((r) => r.length > 0, 'an error');
    client.socket.emit('rechat', { offset: 3 });
    await client.waitFor((r) => r.length > 1, 'a second error');
    expect(client.received).toEqual([
      { event: 'error', data: 'unknown or expired chat; please ask again' },
      {
        event: 'error',
        data: 'invalid rechat request: chat_id: Invalid input: expected string, received undefined',
      },
    ]);
  });
});
