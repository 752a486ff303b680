import { describe, expect, it } from 'vitest';
import type { ChatChunk, ChatChunkJson } from '../models/index.js';
import { AnswerTracker, carriesAnswer } from './answer.js';
import type { OutputFilter } from './types.js';

/** Masks "bad" and holds back a tail that could still become it. */
function mask(): OutputFilter {
  let held = '';
  return {
    push(text) {
      const all = (held + text).replaceAll('bad', '***');
      const keep = all.endsWith('ba') ? 2 : all.endsWith('b') ? 1 : 0;
      held = all.slice(all.length - keep);
      return all.slice(0, all.length - keep);
    },
    flush() {
      const r = held;
      held = '';
      return r;
    },
  };
}

const chunk = (json: ChatChunkJson): ChatChunk => ({ raw: JSON.stringify(json), json });
const delta = (content: string, finish: string | null = null, index = 0) =>
  chunk({ id: 'c', model: 'm', choices: [{ index, delta: { content }, finish_reason: finish }] });

describe('carriesAnswer', () => {
  it('is false for role-only and empty openings, true for content, tool calls and finish', () => {
    expect(carriesAnswer({ choices: [{ delta: { role: 'assistant', content: '' } }] })).toBe(false);
    expect(carriesAnswer({ choices: [{ delta: { role: 'assistant', content: null } }] })).toBe(false);
    expect(carriesAnswer({ choices: [] })).toBe(false);
    expect(carriesAnswer({ choices: [{ delta: { content: 'x' } }] })).toBe(true);
    expect(carriesAnswer({ choices: [{ delta: { tool_calls: [{ index: 0 }] } }] })).toBe(true);
    expect(carriesAnswer({ choices: [{ delta: {}, finish_reason: 'stop' }] })).toBe(true);
  });
});

describe('AnswerTracker', () => {
  it('forwards unchanged chunks raw and rewrites only those the filter changed', () => {
    const t = new AnswerTracker(mask);
    const plain = delta('hello ');
    expect(t.pass(plain).chunk).toBe(plain);
    const held = t.pass(delta('b'));
    expect(held.text).toBe('');
    expect(held.chunk.json.choices?.[0]?.delta?.content).toBe('');
    const done = t.pass(delta('ad end', 'stop'));
    expect(done.text).toBe('*** end');
    expect(JSON.parse(done.chunk.raw).choices[0].delta.content).toBe('*** end');
    expect(t.answer).toBe('hello *** end');
  });

  it('releases held text on the finish chunk, or as a synthetic chunk when none came', () => {
    const t = new AnswerTracker(mask);
    t.pass(delta('a b'));
    expect(t.pass(delta('', 'stop')).text).toBe('b');
    const u = new AnswerTracker(mask);
    u.pass(delta('x ba'));
    const rest = u.drain()!;
    expect(rest.text).toBe('ba');
    expect(rest.chunk.json).toMatchObject({
      id: 'c',
      model: 'm',
      choices: [{ index: 0, delta: { content: 'ba' } }],
    });
    expect(u.drain()).toBeUndefined();
  });

  it('drains what every choice still holds into one chunk shaped like the last one', () => {
    const t = new AnswerTracker(mask);
    t.pass(chunk({ id: 'first', model: 'm1', choices: [{ index: 1, delta: { content: 'x b' } }] }));
    t.pass(
      chunk({ id: 'last', model: 'm2', created: 7, choices: [{ index: 0, delta: { content: 'y ba' } }] }),
    );
    const rest = t.drain()!;
    expect(rest.text).toBe('ba');
    expect(rest.chunk.json).toEqual({
      id: 'last',
      object: 'chat.completion.chunk',
      created: 7,
      model: 'm2',
      choices: [
        { index: 0, delta: { content: 'ba' }, finish_reason: null },
        { index: 1, delta: { content: 'b' }, finish_reason: null },
      ],
    });
    expect(t.answer).toBe('y ba');
    expect(t.drain()).toBeUndefined();
  });

  it('filters every choice of an n > 1 answer separately', () => {
    const t = new AnswerTracker(mask);
    t.pass(delta('b', null, 1));
    const second = t.pass(delta('ad', 'stop', 1));
    expect(second.chunk.json.choices?.[0]?.delta?.content).toBe('***');
    expect(t.answer).toBe('');
  });

  it("takes the upstream's usage, else estimates from characters and says so", () => {
    const messages = [{ role: 'user' as const, content: '123456' }];
    const t = new AnswerTracker(mask);
    t.pass(delta('abcdefghi', 'stop'));
    expect(t.usage(messages, 3)).toEqual({ promptTokens: 2, completionTokens: 3, estimated: true });
    t.pass(chunk({ choices: [], usage: { prompt_tokens: 11, completion_tokens: 4 } }));
    expect(t.usage(messages, 3)).toEqual({ promptTokens: 11, completionTokens: 4, estimated: false });
  });
});
