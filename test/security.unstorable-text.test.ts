import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { CHAT, openChatSocket } from './support/chat-socket.js';
import { startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * Text PostgreSQL cannot hold (U+0000 anywhere, lone surrogates inside jsonb) reached it from
 * client input: the feedback and event routes answered 500, the chat socket an internal error, and
 * a Responses answer was handed out with an id that was never stored (the save failed after the
 * reply). Against the embedded server: every write succeeds, NULs dropped, lone surrogates U+FFFD.
 */

let fake: FakeModel;
let shenma: TestShenma;
beforeAll(async () => {
  fake = await startFakeModel();
  shenma = await startTestShenma({
    models: [
      { name: 'assistant', kind: 'openai', url: `${fake.url}/v1`, roles: ['chat'], model: 'upstream-chat' },
    ],
  });
});
afterAll(async () => {
  await shenma?.close();
  await fake?.close();
});
afterEach(() => fake.reset());

describe('text PostgreSQL cannot store', () => {
  it('is cleaned, not refused, in completion feedback and client error reports', async () => {
    const point = await shenma.post('/api/feedbacks/completions', {
      data: [{ id: 'nul\u0000id', language: 'python', actual_code: 'a\u0000b' }],
    });
    expect(point.status).toBe(200);
    const stored = await shenma.server.db.db
      .selectFrom('completion_feedback')
      .selectAll()
      .where('id', '=', 'nulid')
      .executeTakeFirst();
    expect(stored).toBeDefined();

    const report = await shenma.post('/api/feedbacks/error', {
      openapi_total: 1,
      status: { 'key\u0000': 1, nul: 'x\u0000y', lone: 'cut \udc00 emoji', pair: '😀', literal: '\\u0000' },
    });
    expect(report.status).toBe(200);
    const rows = await shenma.server.db.db.selectFrom('client_error_report').select('body').execute();
    expect(rows.at(-1)?.body).toMatchObject({
      status: { key: 1, nul: 'xy', lone: 'cut \ufffd emoji', pair: '😀', literal: '\\u0000' },
    });
  });

  it('is cleaned in Tabby events and chat feedback', async () => {
    const event = await shenma.post('/v1/events', {
      type: 'view',
      completion_id: 'c\u0000',
      choice_index: 0,
    });
    expect(event.status).toBe(200);
    const useCode = await shenma.post('/api/feedbacks/use_code', {
      conversation_id: 'conv\ud800',
      accept_num: 1,
      behavior: 'copy',
    });
    expect(useCode.status).toBe(200);
  });

  it('keeps a Responses answer whose input held a NUL, so previous_response_id finds it', async () => {
    fake.enqueue({ chunks: ['Hi'] }, { chunks: ['Again'] });
    const client = new OpenAI({ baseURL: `${shenma.url}/v1`, apiKey: shenma.token, maxRetries: 0 });
    const first = await client.responses.create({ model: 'assistant', input: 'hello \u0000 world \ud800' });
    const second = await client.responses.create({
      model: 'assistant',
      input: 'more',
      previous_response_id: first.id,
    });
    expect(second.output_text).toBe('Again');
    const bodies = fake.requests.filter((r) => r.path === '/v1/chat/completions');
    expect((bodies[1]!.body as { messages: unknown[] }).messages).toEqual([
      { role: 'user', content: 'hello  world \ufffd' },
      { role: 'assistant', content: 'Hi' },
      { role: 'user', content: 'more' },
    ]);
  });

  it('answers a chat over the extension’s socket whose conversation id holds a NUL', async () => {
    fake.enqueue({ chunks: ['Sure'] });
    const chat = await openChatSocket(shenma.url, shenma.token);
    try {
      const answered = chat.answer();
      chat.socket.emit('chat', { ...CHAT, conversation_id: 'conv\u0000nul' });
      await answered;
      expect(chat.events.filter((e) => e.event === 'error')).toEqual([]);
    } finally {
      chat.socket.disconnect();
    }
  });
});
