import { describe, expect, it } from 'vitest';
import { parseChatPayload, parseRechatPayload } from './payload.js';

describe('parseChatPayload', () => {
  it("normalizes the extension's payloads, ignoring fields Shenma does not use", () => {
    const free = parseChatPayload({
      language: '',
      filePath: '',
      code: '',
      stream: true,
      conversation_id: 'conv-1',
      action: 'chat',
      prompt: 'Why?',
      range: null,
    });
    expect(free).toEqual({
      ok: true,
      value: {
        action: 'chat',
        prompt: 'Why?',
        code: '',
        language: '',
        filePath: '',
        conversationId: 'conv-1',
      },
    });
    const advise = parseChatPayload({ prompt: '推荐一个最佳方案', action: null, conversation_id: null });
    expect(advise).toMatchObject({ ok: true, value: { action: 'chat', prompt: '推荐一个最佳方案' } });
    expect(advise.ok && 'conversationId' in advise.value).toBe(false);
  });

  it('names the offending field', () => {
    expect(parseChatPayload('hello')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^invalid chat request: \(payload\): /),
    });
    expect(parseChatPayload({ prompt: 'x', conversation_id: '' })).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^invalid chat request: conversation_id: /),
    });
    expect(parseChatPayload({ code: 'x'.repeat(1_000_001), prompt: 'p' })).toMatchObject({ ok: false });
  });

  it('accepts code without a prompt, refuses neither', () => {
    expect(parseChatPayload({ action: 'explain', code: 'x = 1' }).ok).toBe(true);
    expect(parseChatPayload({ action: 'explain', code: ' ', prompt: '' })).toEqual({
      ok: false,
      message: 'invalid chat request: prompt: prompt and code are both empty',
    });
  });
});

describe('parseRechatPayload', () => {
  it('takes a missing offset as 0 (no json item seen yet)', () => {
    expect(parseRechatPayload({ chat_id: 'c', offset: 7 })).toEqual({
      ok: true,
      value: { chatId: 'c', offset: 7 },
    });
    expect(parseRechatPayload({ chat_id: 'c' })).toEqual({ ok: true, value: { chatId: 'c', offset: 0 } });
    expect(parseRechatPayload({ chat_id: 'c', offset: -1 }).ok).toBe(false);
  });
});
