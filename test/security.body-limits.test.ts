import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_CONTEXT_BODY_BYTES } from '../src/gateway/routes.js';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { postPartially } from './support/partial-post.js';
import { startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * Issue #7 item 4: bodies up to 16 MiB were read and parsed before authentication. Now the route
 * table's auth, rate limit and body limit are checked from the headers first. A request that is
 * refused gets its answer while the client has sent only the start of its body (the client then
 * waits without sending more: a server that read the body first would never answer).
 */

let fake: FakeModel;
let shenma: TestShenma;
const FIFTEEN_MIB = 15 * 1024 * 1024;

beforeAll(async () => {
  fake = await startFakeModel();
  shenma = await startTestShenma({
    models: [
      { name: 'assistant', kind: 'openai', url: `${fake.url}/v1`, roles: ['chat'] },
      {
        name: 'coder',
        kind: 'openai',
        url: `${fake.url}/v1`,
        family: 'deepseek-coder',
        contextWindow: 16_384,
      },
    ],
  });
});
afterAll(async () => {
  await shenma?.close();
  await fake?.close();
});

const json = { 'content-type': 'application/json' };

describe('refusals before the body is read', () => {
  for (const declared of [FIFTEEN_MIB, undefined]) {
    const how = declared ? 'a declared 15 MiB body' : 'a chunked body';
    it(`answers 401 to an unauthenticated post with ${how} without reading it`, async () => {
      for (const path of ['/v1/chat/completions', '/v2/completions', '/api/feedbacks/error']) {
        const r = await postPartially({
          url: shenma.url,
          path,
          headers: json,
          ...(declared ? { declaredLength: declared } : {}),
          sendBytes: 64 * 1024,
        });
        expect(r, path).not.toBe('no answer');
        if (r === 'no answer') return;
        expect(r.status, path).toBe(401);
        expect(JSON.parse(r.body).error.type).toBe('authentication_error');
      }
    });
  }

  it('answers 413 naming the limit to an authenticated post declaring more than the route takes', async () => {
    const r = await postPartially({
      url: shenma.url,
      path: '/api/feedbacks/evaluate',
      headers: { ...json, authorization: `Bearer ${shenma.token}` },
      declaredLength: FIFTEEN_MIB,
      sendBytes: 1024,
    });
    expect(r).not.toBe('no answer');
    if (r === 'no answer') return;
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error.message).toContain('at most 16384 bytes (16 KiB)');
  });

  it('refuses an oversized chunked body once it passes the limit', async () => {
    const res = await shenma.post('/api/feedbacks/evaluate', {
      agent_name: 'a',
      conversation_id: 'c',
      rating: 'like',
      message_id: 'x'.repeat(20_000),
    });
    expect(res.status).toBe(413);
    expect((await res.json()).error.message).toContain('16384 bytes');
  });

  it('sizes the completion and chat limits to the largest context window, never below the floor', async () => {
    // coder: 16384 tokens x 3 chars x 8 bytes = 393216 bytes, under the 1 MiB floor.
    const r = await postPartially({
      url: shenma.url,
      path: '/v2/completions',
      headers: { ...json, authorization: `Bearer ${shenma.token}` },
      declaredLength: MIN_CONTEXT_BODY_BYTES + 1,
      sendBytes: 1024,
    });
    expect(r).not.toBe('no answer');
    if (r === 'no answer') return;
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error.message).toContain(`at most ${MIN_CONTEXT_BODY_BYTES} bytes (1 MiB)`);
  });

  it('rate-limits anonymous issue reports per address before reading the body', async () => {
    const answers: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await postPartially({
        url: shenma.url,
        path: '/api/feedbacks/issue',
        headers: json,
        declaredLength: 1024 * 1024,
        sendBytes: 1024,
        // The first five are allowed and wait for their body: they are cut short here.
        waitMs: i < 5 ? 300 : 10_000,
      });
      answers.push(r === 'no answer' ? 0 : r.status);
    }
    expect(answers.slice(0, 5)).toEqual([0, 0, 0, 0, 0]);
    expect(answers[5]).toBe(429);
  });

  it('rate-limits error reports per user', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      statuses.push((await shenma.post('/api/feedbacks/error', { openapi_total: i })).status);
    }
    expect(statuses.slice(0, 10).every((s) => s === 200)).toBe(true);
    expect(statuses[10]).toBe(429);
  });

  it('answers 400, not 500, to a deeply nested JSON body', async () => {
    const deep = `{"status":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    const res = await shenma.post('/v1/chat/completions', deep);
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toBe('body nests deeper than 64 levels');
  });

  it('answers JSON sent as a form (curl -d without a content type) with 415 saying so', async () => {
    const res = await fetch(`${shenma.url}/v1/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${shenma.token}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: JSON.stringify({ model: 'm', prompt: 'x' }),
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
      'content-type must be application/json; this body was sent as a form',
    );
  });

  it('answers JSON sent as text/plain with 415 naming the content type', async () => {
    const res = await fetch(`${shenma.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${shenma.token}`, 'content-type': 'text/plain' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      'content-type must be application/json',
    );
  });

  it('says a body with a prototype key is refused for that key, not that it is invalid JSON', async () => {
    const res = await shenma.post('/v1/chat/completions', '{"__proto__":{"admin":true},"model":"m"}');
    expect(res.status).toBe(400);
    const { message } = (await res.json()).error;
    expect(message).toContain('"__proto__"');
    expect(message).not.toContain('not valid JSON');
  });
});
