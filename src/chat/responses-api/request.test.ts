import { describe, expect, it } from 'vitest';
import { HttpError } from '../../http/errors.js';
import { chatMessagesOf, chatOptionsOf, resolveReferences, responsesBody } from './request.js';

const parse = (body: unknown) => responsesBody.parse(body);

describe('Responses request → Chat Completions', () => {
  it('puts instructions first, maps developer to system and keeps image parts', () => {
    const messages = chatMessagesOf(
      parse({
        instructions: 'Be exact.',
        input: [
          { role: 'developer', content: 'Use TypeScript.' },
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'What is in ' },
              { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'low' },
            ],
          },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'A cat.' }] },
        ],
      }),
    );
    expect(messages).toEqual([
      { role: 'system', content: 'Be exact.' },
      { role: 'system', content: 'Use TypeScript.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in ' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } },
        ],
      },
      { role: 'assistant', content: 'A cat.' },
    ]);
  });

  it('joins consecutive function calls into one assistant turn and drops reasoning items', () => {
    const messages = chatMessagesOf(
      parse({
        input: [
          { role: 'user', content: 'Read both files' },
          { type: 'reasoning', id: 'rs_1', summary: [] },
          { type: 'function_call', call_id: 'c1', name: 'read', arguments: '{"p":"a"}' },
          { type: 'function_call', call_id: 'c2', name: 'read', arguments: '{"p":"b"}' },
          { type: 'function_call_output', call_id: 'c1', output: 'A' },
          { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: 'B' }] },
        ],
      }),
    );
    expect(messages).toEqual([
      { role: 'user', content: 'Read both files' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'read', arguments: '{"p":"a"}' } },
          { id: 'c2', type: 'function', function: { name: 'read', arguments: '{"p":"b"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'A' },
      { role: 'tool', tool_call_id: 'c2', content: 'B' },
    ]);
  });

  it('refuses content it cannot send, naming where it is', () => {
    const body = parse({ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] });
    expect(() => chatMessagesOf(body)).toThrow(HttpError);
    expect(() => chatMessagesOf(body)).toThrow('input.0.content.0: content type "input_file"');
  });

  it('names the missing field of a content type it does take, not the type', () => {
    for (const [part, says] of [
      [{ type: 'input_text' }, 'input.0.content.1.text: required, a string, for content type "input_text"'],
      [{ type: 'input_text', text: 5 }, 'input.0.content.1.text: required'],
      [{ type: 'input_image' }, 'input.0.content.1.image_url: required'],
    ] as const) {
      const body = parse({ input: [{ role: 'user', content: [{ type: 'input_text', text: 'a' }, part] }] });
      expect(() => chatMessagesOf(body)).toThrow(says);
    }
  });

  it('refuses built-in tools by name', () => {
    const r = responsesBody.safeParse({ input: 'x', tools: [{ type: 'web_search' }] });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toContain('only function tools');
  });

  it('maps the options Chat has a word for', () => {
    expect(
      chatOptionsOf(
        parse({
          input: 'x',
          max_output_tokens: 10,
          temperature: 0.2,
          top_p: 0.9,
          tools: [{ type: 'function', name: 'f', parameters: { type: 'object' } }],
          tool_choice: { type: 'function', name: 'f' },
          parallel_tool_calls: false,
          text: { format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true } },
          store: false,
          metadata: { a: 'b' },
        }),
      ),
    ).toEqual({
      max_tokens: 10,
      temperature: 0.2,
      top_p: 0.9,
      parallel_tool_calls: false,
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      tool_choice: { type: 'function', function: { name: 'f' } },
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'out', schema: { type: 'object' }, strict: true },
      },
    });
  });

  it('resolves item references from the store and refuses unknown ones', async () => {
    const stored = new Map([
      [
        'msg_1',
        { type: 'message', id: 'msg_1', role: 'assistant', content: [{ type: 'output_text', text: 'Hi' }] },
      ],
    ]);
    const lookup = async (ids: string[]) => new Map([...stored].filter(([id]) => ids.includes(id)));
    const body = await resolveReferences(
      parse({
        input: [
          { type: 'item_reference', id: 'msg_1' },
          { role: 'user', content: 'more' },
        ],
      }),
      lookup,
    );
    expect(chatMessagesOf(body)).toEqual([
      { role: 'assistant', content: 'Hi' },
      { role: 'user', content: 'more' },
    ]);
    await expect(
      resolveReferences(parse({ input: [{ type: 'item_reference', id: 'msg_2' }] }), lookup),
    ).rejects.toThrow('input.0: no stored item "msg_2"');
  });
});
