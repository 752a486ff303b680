import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { REDIS_TEST_URL } from './support/redis.js';
import { type ReplicaSet, replicasUnavailable, startReplicas } from './support/replicas.js';
import { extensionBody, type JsonResponse } from './support/shenma.js';

/**
 * Two Shenma replicas (two `shenma start` processes) on one Redis and one PostgreSQL, as the
 * deployed shape runs them behind a load balancer: a client may reach either on any request.
 * The one model is the fake; what it records shows which upstream calls were closed.
 */

// socket.io-client 4.0.1 (what the extension bundles) ships types for its CommonJS build only.
type SocketIoClient = typeof import('socket.io-client', { with: { 'resolution-mode': 'require' }});
const { io } = createRequire(import.meta.url)('socket.io-client') as SocketIoClient;
type Socket = InstanceType<SocketIoClient['Socket']>;

const unavailable = await replicasUnavailable();
if (unavailable) console.warn(`[replicas] SKIPPING the two-replica tests: ${unavailable}`);

let fake: FakeModel;
let set: ReplicaSet;
let aliceToken: string;
let bobToken: string;
const clients: Socket[] = [];

beforeAll(async () => {
  if (unavailable) return;
  fake = await startFakeModel();
  set = await startReplicas(
    2,
    [
      'models:',
      '  - name: assistant',
      '    kind: openai',
      `    url: ${fake.url}/v1`,
      '    roles: [chat]',
      '  - name: coder',
      '    kind: openai',
      `    url: ${fake.url}/v1`,
      '    family: qwen2.5-coder',
      'completion:',
      '  model: coder',
      'chat:',
      '  maxRetries: 0',
    ].join('\n'),
  );
  aliceToken = await set.userToken('alice');
  bobToken = await set.userToken('bob');
}, 240_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await set?.close();
  await fake?.close();
}, 60_000);

const A = () => set.replicas[0]!.url;
const B = () => set.replicas[1]!.url;

interface Received {
  event: string;
  // biome-ignore lint/suspicious/noExplicitAny: wire JSON, checked field by field
  data: any;
}

async function until<T>(
  get: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await get();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A client as the extension makes it (websocket only), recording every event in arrival order. */
async function connect(url: string, token: string) {
  const socket = io(`${url}/chat`, {
    auth: { token, ide: 'vscode' },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  clients.push(socket);
  const received: Received[] = [];
  socket.onAny((event: string, data: unknown) => received.push({ event, data }));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const waitFor = (pred: (r: Received[]) => boolean, what: string) =>
    until(() => (pred(received) ? received : undefined), what);
  return {
    socket,
    received,
    waitFor,
    untilEnd: () => waitFor((r) => r.some(isEnd), 'the end of the answer').then(() => [...received]),
  };
}

const isEnd = (r: Received) => r.event === 'error' || (r.event === 'message' && r.data === '[DONE]');
const jsonOf = (received: Received[]) => received.filter((r) => r.event === 'json').map((r) => r.data);
const answerOf = (received: Received[]) =>
  jsonOf(received)
    .filter((j) => j.event === 'dify_agent_thought')
    .map((j) => j.dify_chunk.answer)
    .join('');

const question = () => ({
  action: 'chat',
  prompt: 'Explain the replicas',
  code: '',
  language: '',
  filePath: '',
  stream: true,
  conversation_id: `conv-${Math.random().toString(16).slice(2)}`,
  range: { startLine: 0, endLine: 0 },
});

/** Waits until the chat's items up to `offset` are in Redis, where every replica reads them. */
async function storedUpTo(chatId: string, offset: number): Promise<void> {
  const redis = new Redis(REDIS_TEST_URL, { maxRetriesPerRequest: 1 });
  try {
    const key = `${set.keyPrefix}chat:${chatId}:items`;
    await until(async () => {
      const [last] = await redis.xrevrange(key, '+', '-', 'COUNT', 1);
      return last && Number.parseInt(last[0], 10) >= offset ? true : undefined;
    }, `item ${offset} of the chat in Redis`);
  } finally {
    redis.disconnect();
  }
}

/** Counts the runner's "new items" announcements on the chat's channel. */
async function announcementsOf(chatId: string) {
  const redis = new Redis(REDIS_TEST_URL, { maxRetriesPerRequest: 1 });
  const state = { count: 0, stop: async () => void redis.disconnect() };
  redis.on('message', (_channel: string, message: string) => {
    if (message === 'n') state.count++;
  });
  await redis.subscribe(`${set.keyPrefix}chat:${chatId}`);
  return state;
}

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i} `);

describe.skipIf(unavailable !== undefined)('two replicas on one Redis and one PostgreSQL', () => {
  it('rechat on replica B follows an answer running on replica A to its end, after the socket on A is gone', async () => {
    fake.reset();
    fake.enqueue({ chunks: words(80), interChunkMs: 25 });
    const onA = await connect(A(), aliceToken);
    onA.socket.emit('chat', question());
    await onA.waitFor((r) => jsonOf(r).length >= 4, 'some answer on A');
    const chatId: string = onA.received[0]!.data;
    const seenOnA = jsonOf(onA.received).at(-1).offset as number;

    // The client's reconnect lands on B (once the chat is stored, as a second later it is) and
    // resumes after the last item it saw, which may be newer than what is stored yet.
    await storedUpTo(chatId, 1);
    const announced = await announcementsOf(chatId);
    const onB = await connect(B(), aliceToken);
    onB.socket.emit('rechat', { chat_id: chatId, offset: seenOnA });
    await onB.waitFor((r) => jsonOf(r).length >= 2, 'the replay on B');
    // A announces stored items once it counts B's follower (in life the old socket on A is
    // usually noticed dead only after B's rechat; here the test makes sure of that order).
    await until(() => (announced.count > 0 ? true : undefined), "A's first announcement to B");
    await announced.stop();
    // A notices its socket is gone: B still follows, so the answer goes on.
    onA.socket.disconnect();
    const received = await onB.untilEnd();
    expect(received.at(-1)).toEqual({ event: 'message', data: '[DONE]' });
    const offsets = jsonOf(received).map((j) => j.offset);
    expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => seenOnA + 1 + i));
    // What A sent before the switch plus what B sent after it is the whole answer, once.
    const beforeSwitch = onA.received.filter((r) => r.event !== 'json' || r.data.offset <= seenOnA);
    expect(answerOf(beforeSwitch) + answerOf(received)).toBe(words(80).join(''));
    const stream = await fake.waitForStreamEnd(0, 20_000);
    expect(stream.finished).toBe(true);
    expect(stream.clientClosed).toBe(false);
  }, 60_000);

  it('replays a finished answer from replica A on replica B, and refuses it to another user', async () => {
    fake.reset();
    fake.enqueue({ chunks: ['one ', 'two ', 'three'] });
    const onA = await connect(A(), aliceToken);
    onA.socket.emit('chat', question());
    const original = await onA.untilEnd();
    expect(original.at(-1)).toEqual({ event: 'message', data: '[DONE]' });
    const chatId: string = original[0]!.data;
    // A reconnecting client comes back a second later; by then the end is stored.
    await storedUpTo(chatId, original.length - 1);

    const onB = await connect(B(), aliceToken);
    onB.socket.emit('rechat', { chat_id: chatId, offset: 0 });
    const replayed = await onB.untilEnd();
    expect(replayed).toEqual(original.slice(1));

    const bob = await connect(B(), bobToken);
    bob.socket.emit('rechat', { chat_id: chatId, offset: 0 });
    await bob.waitFor((r) => r.length > 0, "the refusal of alice's chat");
    expect(bob.received).toEqual([{ event: 'error', data: 'not your chat' }]);
  }, 60_000);

  it("refuses another user's rechat on B of an answer running on A, which keeps running for its owner", async () => {
    fake.reset();
    fake.enqueue({ chunks: words(40), interChunkMs: 25 });
    const onA = await connect(A(), aliceToken);
    onA.socket.emit('chat', question());
    await onA.waitFor((r) => jsonOf(r).length >= 2, 'some answer on A');
    // Stored, so B knows the chat and whose it is (before that it would say "unknown").
    await storedUpTo(onA.received[0]!.data, 2);
    const bob = await connect(B(), bobToken);
    bob.socket.emit('rechat', { chat_id: onA.received[0]!.data, offset: 0 });
    await bob.waitFor((r) => r.length > 0, 'the refusal');
    const received = await onA.untilEnd();
    expect(bob.received).toEqual([{ event: 'error', data: 'not your chat' }]);
    expect(answerOf(received)).toBe(words(40).join(''));
  }, 60_000);

  it('a newer completion from the same stream on replica B supersedes the one running on replica A', async () => {
    fake.reset();
    // The first answer would take a minute: only a supersede ends it early.
    fake.enqueue({ chunks: ['slow'], ttftMs: 60_000 }, { chunks: ['a - b'] });
    const prefix = 'def sub(a, b):\n    return ';
    const post = (url: string, body: unknown): Promise<JsonResponse> =>
      fetch(`${url}/v2/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${aliceToken}` },
        body: JSON.stringify(body),
      });
    const first = post(A(), extensionBody(prefix, '\n', { completion_id: '1-aaaabbbbccccdddd' }));
    await fake.waitForRequests(1, 20_000);
    const second = await post(
      B(),
      extensionBody(`${prefix}a`, '\n', { completion_id: '2-aaaabbbbccccdddd' }),
    );
    expect(second.status).toBe(200);
    expect((await second.json()).choices[0].text).toBe('a - b');
    const firstBody = await (await first).json();
    expect(firstBody.choices).toEqual([]);
    expect(firstBody.reason).toBe('superseded');
    const record = await fake.waitForStreamEnd(0, 20_000);
    expect(record.clientClosed).toBe(true);
    expect(record.chunksWritten).toBe(0);
  }, 60_000);

  it('a follower on B of an answer whose replica dies ends with "interrupted"', async () => {
    fake.reset();
    fake.enqueue({ chunks: words(400), interChunkMs: 50 });
    const onA = await connect(A(), aliceToken);
    onA.socket.emit('chat', question());
    await onA.waitFor((r) => jsonOf(r).length >= 3, 'some answer on A');
    await storedUpTo(onA.received[0]!.data, 1);
    const onB = await connect(B(), aliceToken);
    onB.socket.emit('rechat', { chat_id: onA.received[0]!.data, offset: 0 });
    await onB.waitFor((r) => jsonOf(r).length >= 3, 'the replay on B');
    // No goodbye: the process is gone, and with it its Redis connections.
    expect(await set.replicas[0]!.stop('SIGKILL')).toBe('SIGKILL');
    const received = await onB.untilEnd();
    expect(received.at(-1)).toEqual({
      event: 'error',
      data: 'interrupted: the connection closed before the answer was complete; please ask again',
    });
    const offsets = jsonOf(received).map((j) => j.offset);
    expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => i + 1));
  }, 60_000);
});
