import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * The extension's Socket.IO chat as `shenma start` serves it: the route table's auth through the
 * identity role, the real hooks (server-side history per user and conversation, the ledger).
 */

// socket.io-client 4.0.1 (what the extension bundles) ships types for its CommonJS build only.
type SocketIoClient = typeof import('socket.io-client', { with: { 'resolution-mode': 'require' }});
const { io } = createRequire(import.meta.url)('socket.io-client') as SocketIoClient;

let fake: FakeModel;
let shenma: TestShenma;

beforeAll(async () => {
  fake = await startFakeModel();
  shenma = await startTestShenma({
    models: [{ name: 'assistant', kind: 'openai', url: `${fake.url}/v1`, roles: ['chat'] }],
  });
});
afterAll(async () => {
  await shenma?.close();
  await fake?.close();
});

/** One chat turn the way the extension does it: connect, emit chat, read until [DONE], disconnect. */
async function turn(prompt: string, conversationId: string, token: string) {
  const socket = io(`${shenma.url}/chat`, {
    auth: { token, username: 'tester', ide: 'vscode' },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  const events: { event: string; data: unknown }[] = [];
  socket.onAny((event: string, data: unknown) => events.push({ event, data }));
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    socket.emit('chat', {
      action: 'chat',
      prompt,
      code: '',
      language: '',
      filePath: '',
      stream: true,
      conversation_id: conversationId,
      range: { startLine: 0, endLine: 0 },
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no end: ${JSON.stringify(events)}`)), 10_000);
      socket.on('message', (m: string) => {
        if (m === '[DONE]') {
          clearTimeout(timer);
          resolve();
        }
      });
      socket.on('error', (e: unknown) => {
        clearTimeout(timer);
        reject(new Error(String(e)));
      });
    });
    return events;
  } finally {
    socket.disconnect();
  }
}

describe('socket chat through the embedded server', () => {
  it('refuses a connection without valid credentials', async () => {
    const socket = io(`${shenma.url}/chat`, {
      auth: { token: 'nope' },
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    });
    const err = await new Promise<Error>((resolve) => socket.once('connect_error', resolve));
    socket.disconnect();
    expect(err.message).toMatch(/token|credential/i);
  });

  it('keeps server-side history per conversation and records each turn in the ledger', async () => {
    fake.enqueue({ chunks: ['It adds ', 'two numbers.'] }, { chunks: ['Use a loop.'] });
    const first = await turn('What does add do?', 'conv-e2e-1', shenma.token);
    const answer = first
      .filter((e) => e.event === 'json' && (e.data as { event: string }).event === 'dify_agent_thought')
      .map((e) => (e.data as { dify_chunk: { answer: string } }).dify_chunk.answer)
      .join('');
    expect(answer).toBe('It adds two numbers.');
    expect(first[0]!.event).toBe('updateChatId');

    await turn('And how to make it faster?', 'conv-e2e-1', shenma.token);
    const sent = fake.requests
      .filter((r) => r.path === '/v1/chat/completions')
      .map((r) => r.body as { messages: { role: string; content: string }[] });
    expect(sent).toHaveLength(2);
    const second = sent[1]!.messages.filter((m) => m.role !== 'system');
    expect(second.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(second[1]!.content).toBe('It adds two numbers.');
    expect(second[2]!.content).toContain('And how to make it faster?');

    const rows = await shenma.server.db.db
      .selectFrom('usage_ledger')
      .selectAll()
      .where('route', '=', 'socket')
      .execute();
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.status === 'ok' && r.user_name === 'tester')).toBe(true);
  });
});

describe('shutting down the embedded server', () => {
  it('does not wait for a connected extension to hang up', async () => {
    const own = await startTestShenma({
      models: [{ name: 'assistant', kind: 'openai', url: `${fake.url}/v1`, roles: ['chat'] }],
    });
    const socket = io(`${own.url}/chat`, {
      auth: { token: own.token },
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      // Without closing the sockets first, close() would wait for them forever (the test timeout).
      await own.close();
      expect(await disconnected).toMatch(/transport close|server/);
    } finally {
      socket.disconnect();
    }
  });
});
