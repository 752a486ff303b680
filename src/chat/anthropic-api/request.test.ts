import { describe, expect, it } from 'vitest';
import { chatMessagesOf, chatOptionsOf, messagesBody } from './request.js';

const parse = (body: Record<string, unknown>) => messagesBody.parse({ model: 'm', max_tokens: 100, ...body });

describe('Anthropic request → Chat Completions', () => {
  it('sends system blocks as one system message and tool results before the rest of the user turn', () => {
    const messages = chatMessagesOf(
      parse({
        system: [
          { type: 'text', text: 'You are a coder. ', cache_control: { type: 'ephemeral' } },
          { type: 'text', text: 'Be brief.' },
        ],
        messages: [
          { role: 'user', content: 'List files' },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'hmm', signature: 'x' },
              { type: 'tool_use', id: 't1', name: 'ls', input: { dir: '.' } },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'a.ts' }] },
              { type: 'text', text: 'and now?' },
              { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: 'QUJD' } },
            ],
          },
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: 't2', content: 'not found', is_error: true }],
          },
        ],
      }),
    );
    expect(messages).toEqual([
      { role: 'system', content: 'You are a coder. Be brief.' },
      { role: 'user', content: 'List files' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 't1', type: 'function', function: { name: 'ls', arguments: '{"dir":"."}' } }],
      },
      { role: 'tool', tool_call_id: 't1', content: 'a.ts' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'and now?' },
          { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,QUJD' } },
        ],
      },
      { role: 'tool', tool_call_id: 't2', content: 'Error: not found' },
    ]);
  });

  it('refuses blocks and tools it cannot send', () => {
    expect(() =>
      chatMessagesOf(parse({ messages: [{ role: 'user', content: [{ type: 'document', source: {} }] }] })),
    ).toThrow('messages.0.content.0: content block type "document"');
    expect(() =>
      chatOptionsOf(
        parse({
          messages: [{ role: 'user', content: 'x' }],
          tools: [{ type: 'web_search_20250305', name: 'web_search' }],
        }),
      ),
    ).toThrow('tools.0: tool type "web_search_20250305"');
  });

  it('refuses a tool result whose content is neither text nor blocks, naming where it is', () => {
    for (const content of [5, null, true, { text: 'x' }, [null], ['text']]) {
      const body = parse({
        messages: [
          { role: 'user', content: 'hi' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'a' },
              { type: 'tool_result', tool_use_id: 'x', content },
            ],
          },
        ],
      });
      expect(() => chatMessagesOf(body), JSON.stringify(content)).toThrow(
        'messages.1.content.1.content: must be a string or an array of content blocks',
      );
    }
  });

  it('maps sampling, stop sequences, tools and tool_choice', () => {
    const options = chatOptionsOf(
      parse({
        messages: [{ role: 'user', content: 'x' }],
        stop_sequences: ['END'],
        temperature: 0.5,
        top_k: 40,
        metadata: { user_id: 'u-1' },
        tools: [{ name: 'f', description: 'does f', input_schema: { type: 'object' } }],
        tool_choice: { type: 'any', disable_parallel_tool_use: true },
      }),
    );
    expect(options).toEqual({
      max_tokens: 100,
      stop: ['END'],
      temperature: 0.5,
      top_k: 40,
      user: 'u-1',
      tools: [
        { type: 'function', function: { name: 'f', description: 'does f', parameters: { type: 'object' } } },
      ],
      tool_choice: 'required',
      parallel_tool_calls: false,
    });
    expect(
      chatOptionsOf(
        parse({
          messages: [{ role: 'user', content: 'x' }],
          tools: [{ name: 'f' }],
          tool_choice: { type: 'tool', name: 'f' },
        }),
      )['tool_choice'],
    ).toEqual({ type: 'function', function: { name: 'f' } });
  });

  it('requires max_tokens and at least one message, as Anthropic does', () => {
    expect(messagesBody.safeParse({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).success).toBe(
      false,
    );
    expect(messagesBody.safeParse({ model: 'm', max_tokens: 5, messages: [] }).success).toBe(false);
  });
});
