import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * The chat role as `shenma start` wires it: auth from the route table, the real hooks (content
 * filter, quotas, usage ledger in PostgreSQL), the webview's feedback calls with CORS.
 */

let fake: FakeModel;
let shenma: TestShenma;

beforeAll(async () => {
  fake = await startFakeModel();
  shenma = await startTestShenma({
    models: [
      { name: 'assistant', kind: 'openai', url: `${fake.url}/v1`, roles: ['chat'], model: 'upstream-chat' },
    ],
    chat: { contentFilter: { words: ['password123', 'secretproject'] } },
    quotas: { users: { tester: { requestsPerDay: 4 } } },
  });
});
afterAll(async () => {
  await shenma?.close();
  await fake?.close();
});
afterEach(() => fake.reset());

const ask = (content: string, extra: Record<string, unknown> = {}) =>
  shenma.post('/v1/chat/completions', {
    model: 'assistant',
    messages: [{ role: 'user', content }],
    ...extra,
  });

describe('chat through the embedded server', () => {
  it('requires credentials and lists chat models', async () => {
    const anon = await shenma.post(
      '/v1/chat/completions',
      { messages: [{ role: 'user', content: 'hi' }] },
      { authorization: 'Bearer nope' },
    );
    expect(anon.status).toBe(401);
    const models = await (await shenma.get('/v1/models')).json();
    expect(models.data.map((m: { id: string }) => m.id)).toEqual(['assistant']);
    const alias = await shenma.get('/ai-gateway/api/v1/models');
    expect(alias.status).toBe(200);
  });

  it('streams an answer, masks filtered words and records one ledger row per request', async () => {
    fake.enqueue({ chunks: ['The code ', 'is secret', 'project-free.'], ttftMs: 5 });
    const res = await ask('Explain this', { stream: true, stream_options: { include_usage: true } });
    expect(res.status).toBe(200);
    const text = await res.text();
    const deltas = text
      .split('\n\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)))
      .map((e) => e.choices?.[0]?.delta?.content ?? '')
      .join('');
    expect(deltas).toBe('The code is ***-free.');
    expect(text.trim().endsWith('data: [DONE]')).toBe(true);
    const rows = await shenma.server.db.db
      .selectFrom('usage_ledger')
      .selectAll()
      .where('route', '=', 'openai')
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ user_name: 'tester', model: 'assistant', status: 'ok' });
    expect(rows[0]!.completion_tokens).toBeGreaterThan(0);
  });

  it('refuses a question containing a filtered word without calling the model', async () => {
    const res = await ask('my password123 is');
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toContain('password123');
    expect(fake.requests.filter((r) => r.path === '/v1/chat/completions')).toHaveLength(0);
  });

  it('answers 429 with Retry-After once the daily request quota is spent', async () => {
    const used = (
      await shenma.server.db.db.selectFrom('usage_ledger').select('id').where('status', '=', 'ok').execute()
    ).length;
    const statuses: number[] = [];
    for (let i = used; i < 6; i++) {
      fake.enqueue({ chunks: ['ok'] });
      statuses.push((await ask(`question ${i}`)).status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(4 - used);
    const refused = await ask('one more');
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect((await refused.json()).error.message).toMatch(/quota/);
  });

  it('stores webview feedback and answers its CORS preflight; issue reports need no login', async () => {
    const preflight = await fetch(`${shenma.url}/api/feedbacks/evaluate`, {
      method: 'OPTIONS',
      headers: {
        origin: 'vscode-webview://1abc',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'api-key,content-type,ide,ide-version,ide-real-version,host-ip',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    for (const h of ['api-key', 'ide', 'ide-version', 'ide-real-version', 'host-ip', 'content-type']) {
      expect(preflight.headers.get('access-control-allow-headers')).toContain(h);
    }
    const evaluate = await shenma.post(
      '/api/feedbacks/evaluate',
      { agent_name: '诸葛神码', conversation_id: 'conv-1', message_id: 'm1', rating: 'like' },
      { 'api-key': shenma.token },
    );
    expect(evaluate.status).toBe(200);
    expect(await evaluate.json()).toEqual({ status: 'ok' });
    const useCode = await shenma.post('/api/feedbacks/use_code', {
      conversation_id: 'conv-1',
      accept_num: 3,
      behavior: 'copy',
    });
    expect(await useCode.json()).toEqual({ status: 'ok' });
    const issue = await fetch(`${shenma.url}/api/feedbacks/issue`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ category: 'bug', description: 'completion is slow', number: '' }),
    });
    expect(issue.status).toBe(200);
    const rows = await shenma.server.db.db
      .selectFrom('chat_feedback')
      .select(['kind', 'user_name'])
      .orderBy('id')
      .execute();
    expect(rows).toEqual([
      { kind: 'evaluate', user_name: 'tester' },
      { kind: 'use_code', user_name: 'tester' },
      { kind: 'issue', user_name: null },
    ]);
  });

  it("answers the extension's update check with its own version unless one is configured", async () => {
    const res = await shenma.get('/vscode/ex-server-api/zgsm-ai/zgsm/latest', {
      'api-key': shenma.token,
      'ide-version': '1.2.0',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ version: '1.2.0' });
    const anon = await fetch(`${shenma.url}/vscode/ex-server-api/zgsm-ai/zgsm/latest`);
    expect(anon.status).toBe(401);
  });
});
