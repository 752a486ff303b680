import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requestedAnswerTokens } from '../src/chat/service.js';
import { type FakeModel, startFakeModel } from './fake-model/server.js';
import { startTestShenma, type TestShenma } from './support/shenma.js';

/**
 * The daily token quota holds back what a request may use (its prompt and the answer length it
 * asked for) until the real usage is known. It used to hold back 1,024 answer tokens whatever
 * max_tokens said, so four parallel answers of 4,000 tokens spent 16,004 of a 5,000 budget.
 */

const BUDGET = 5000;
let fake: FakeModel;
let shenma: TestShenma;
beforeAll(async () => {
  fake = await startFakeModel();
  shenma = await startTestShenma({
    models: [{ name: 'assistant', kind: 'openai', url: `${fake.url}/v1`, roles: ['chat'] }],
    quotas: { users: { tester: { tokensPerDay: BUDGET } } },
  });
});
afterAll(async () => {
  await shenma?.close();
  await fake?.close();
});
afterEach(() => fake.reset());

const ask = (maxTokens?: number) =>
  shenma.post('/v1/chat/completions', {
    model: 'assistant',
    messages: [{ role: 'user', content: 'hi' }],
    ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }),
  });

describe('the daily token quota and max_tokens', () => {
  it('refuses at once an answer longer than the budget allows, without calling the model', async () => {
    const res = await ask(100_000);
    expect(res.status).toBe(429);
    expect(fake.requests.filter((r) => r.path === '/v1/chat/completions')).toHaveLength(0);
  });

  it('lets parallel requests together reserve no more than the budget', async () => {
    const answer = {
      chunks: ['long answer'],
      ttftMs: 800,
      usage: { prompt_tokens: 1, completion_tokens: 2000 },
    };
    fake.enqueue(answer, answer, answer, answer);
    const statuses = (await Promise.all([ask(2000), ask(2000), ask(2000), ask(2000)])).map((r) => r.status);
    // 2 × (2,000 + the prompt) fit in 5,000; a third would not.
    expect(statuses.filter((s) => s === 200)).toHaveLength(2);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
  });
});

describe('requestedAnswerTokens', () => {
  it('reads max_completion_tokens, then max_tokens, and ignores what is not a positive integer', () => {
    expect(requestedAnswerTokens({ max_tokens: 300 })).toBe(300);
    expect(requestedAnswerTokens({ max_completion_tokens: 200, max_tokens: 300 })).toBe(200);
    expect(requestedAnswerTokens({ max_tokens: '300' })).toBeUndefined();
    expect(requestedAnswerTokens({ max_tokens: -1 })).toBeUndefined();
    expect(requestedAnswerTokens({ max_tokens: 1.5 })).toBeUndefined();
    expect(requestedAnswerTokens({})).toBeUndefined();
  });
});
