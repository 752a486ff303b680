import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase } from '../../test/support/database.js';
import { fastifyErrorHandler } from '../http/errors.js';
import { chatFeedbackHandlers, MAX_SCREENSHOT_BYTES } from './feedback.js';

describe('chat feedback REST', () => {
  let test: Awaited<ReturnType<typeof openTestDatabase>>;
  let app: FastifyInstance;

  beforeAll(async () => {
    test = await openTestDatabase('feedback');
    const handlers = chatFeedbackHandlers(test.database);
    app = Fastify({ bodyLimit: 16 * 1024 * 1024 });
    app.setErrorHandler(fastifyErrorHandler);
    app.decorateRequest('identity', undefined);
    // Stands in for the gateway's auth: the `x-test-user` header names the caller.
    app.addHook('onRequest', async (req) => {
      const name = req.headers['x-test-user'];
      if (typeof name === 'string') req.identity = { userId: `id-${name}`, name, via: 'api_token' };
    });
    app.post('/api/feedbacks/evaluate', handlers['chat.feedback']);
    app.post('/api/feedbacks/use_code', handlers['chat.feedback']);
    app.post('/api/feedbacks/issue', handlers['chat.issue']);
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await test.close();
  });

  const post = (url: string, body: unknown, user: string | null = 'alice') =>
    app.inject({
      method: 'POST',
      url,
      payload: JSON.stringify(body),
      headers: {
        'content-type': 'application/json',
        ide: 'vscode',
        'ide-version': '1.2.0',
        'user-agent': 'VSCode/1.98',
        ...(user ? { 'x-test-user': user } : {}),
      },
    });

  const rows = (kind: string) =>
    test.database.db
      .selectFrom('chat_feedback')
      .where('kind', '=', kind as 'evaluate')
      .select(['user_name', 'conversation_id', 'body'])
      .orderBy('id')
      .execute();

  it('stores a thumbs up/down and answers {"status":"ok"}', async () => {
    const body = { agent_name: '诸葛神码', conversation_id: 'conv-1', message_id: '', rating: 'like' };
    const res = await post('/api/feedbacks/evaluate', body);
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('{"status":"ok"}');
    // Every report is its own row; the original kept only the last one per conversation.
    await post('/api/feedbacks/evaluate', { ...body, rating: 'dislike' });
    const stored = await rows('evaluate');
    expect(stored).toEqual([
      {
        user_name: 'alice',
        conversation_id: 'conv-1',
        body: { ...body, client: { ide: 'vscode', ide_version: '1.2.0', user_agent: 'VSCode/1.98' } },
      },
      expect.objectContaining({ body: expect.objectContaining({ rating: 'dislike' }) }),
    ]);
  });

  it('stores a code-use report and answers {"status":"ok"}', async () => {
    const res = await post('/api/feedbacks/use_code', {
      conversation_id: 'conv-2',
      accept_num: 0,
      behavior: 'diff',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
    expect(await rows('use_code')).toEqual([
      {
        user_name: 'alice',
        conversation_id: 'conv-2',
        body: {
          conversation_id: 'conv-2',
          accept_num: 0,
          behavior: 'diff',
          client: { ide: 'vscode', ide_version: '1.2.0', user_agent: 'VSCode/1.98' },
        },
      },
    ]);
  });

  it('answers 400 naming the field that is wrong', async () => {
    const cases: [string, unknown, string][] = [
      ['/api/feedbacks/evaluate', { agent_name: 'x', conversation_id: 'c', rating: 'meh' }, 'rating'],
      ['/api/feedbacks/evaluate', { agent_name: 'x', rating: 'like' }, 'conversation_id'],
      ['/api/feedbacks/use_code', { conversation_id: 'c', accept_num: -1, behavior: 'copy' }, 'accept_num'],
      ['/api/feedbacks/use_code', { conversation_id: 'c', accept_num: 1, behavior: 'paste' }, 'behavior'],
      ['/api/feedbacks/issue', { description: 'broken' }, 'category'],
    ];
    for (const [url, body, field] of cases) {
      const res = await post(url, body);
      expect(res.statusCode, `${url} ${field}`).toBe(400);
      expect(res.json().error).toMatchObject({ type: 'invalid_request_error', param: field });
      expect(res.json().error.message).toMatch(new RegExp(`^${field}: `));
    }
  });

  it('stores an issue report, screenshot included, and answers in the envelope', async () => {
    const png = `data:image/png;base64,${Buffer.from('not really a png').toString('base64')}`;
    const issue = {
      category: 'bug',
      description: 'chat froze',
      number: 13800138000,
      screenshot_data: png,
      screenshot_name: 'a.png',
    };
    const res = await post('/api/feedbacks/issue', issue, null);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ message: '操作成功', data: null, success: true });
    const [stored] = await rows('issue');
    // The issue page posts without credentials (docs/protocol.md §6.3): no user then.
    expect(stored).toMatchObject({ user_name: null, conversation_id: null, body: { ...issue } });
  });

  it('refuses a screenshot over the size cap with 413 and one that is not an image data URL with 400', async () => {
    const big = `data:image/png;base64,${Buffer.alloc(MAX_SCREENSHOT_BYTES + 3).toString('base64')}`;
    const tooBig = await post('/api/feedbacks/issue', {
      category: 'bug',
      description: 'x',
      screenshot_data: big,
    });
    expect(tooBig.statusCode).toBe(413);
    expect(tooBig.json().error.param).toBe('screenshot_data');

    const atCap = `data:image/jpeg;base64,${Buffer.alloc(MAX_SCREENSHOT_BYTES).toString('base64')}`;
    expect(
      (await post('/api/feedbacks/issue', { category: 'bug', description: 'x', screenshot_data: atCap }))
        .statusCode,
    ).toBe(200);

    for (const bad of [
      'https://example.com/a.png',
      'data:text/html;base64,PGI+',
      'data:image/png;base64,@@@',
    ]) {
      const res = await post('/api/feedbacks/issue', {
        category: 'bug',
        description: 'x',
        screenshot_data: bad,
      });
      expect(res.statusCode, bad).toBe(400);
      expect(res.json().error.param).toBe('screenshot_data');
    }
  });

  it('stores only the known fields: unknown ones, however large, are dropped', async () => {
    const res = await post('/api/feedbacks/evaluate', {
      agent_name: 'a',
      conversation_id: 'conv-unknown',
      rating: 'like',
      padding: 'x'.repeat(100_000),
      nested: { deep: [1, 2, 3] },
    });
    expect(res.statusCode).toBe(200);
    const [stored] = (await rows('evaluate')).filter((r) => r.conversation_id === 'conv-unknown');
    expect(Object.keys(stored!.body).sort()).toEqual(['agent_name', 'client', 'conversation_id', 'rating']);
  });

  it('caps every stored text field with a 400 naming it', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      [
        '/api/feedbacks/evaluate',
        { agent_name: 'x'.repeat(201), conversation_id: 'c', rating: 'like' },
        'agent_name',
      ],
      [
        '/api/feedbacks/evaluate',
        { agent_name: 'x', conversation_id: 'c', rating: 'like', message_id: 'm'.repeat(201) },
        'message_id',
      ],
      ['/api/feedbacks/issue', { category: 'bug', description: 'd'.repeat(20_001) }, 'description'],
      [
        '/api/feedbacks/issue',
        { category: 'bug', description: 'd', screenshot_name: 'n'.repeat(256) },
        'screenshot_name',
      ],
    ];
    for (const [url, body, field] of cases) {
      const res = await post(url, body);
      expect(res.statusCode, field).toBe(400);
      expect(res.json().error.param).toBe(field);
    }
  });

  it('drops NUL characters PostgreSQL cannot store instead of failing', async () => {
    const res = await post('/api/feedbacks/issue', { category: 'bug', description: 'a\u0000b' });
    expect(res.statusCode).toBe(200);
    const stored = await rows('issue');
    expect(stored.at(-1)!.body.description).toBe('ab');
  });
});
