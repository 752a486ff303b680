import { describe, expect, it } from 'vitest';
import { RESPONSES_REQUEST, responsesInputOf, responsesRequestOf } from './responses.js';

describe('Chat body → Responses request (chatApi: responses)', () => {
  it('turns messages into input items, tool calls and results included', () => {
    expect(
      responsesInputOf([
        { role: 'system', content: 'sys' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'see ' },
            { type: 'image_url', image_url: { url: 'https://x/y.png', detail: 'high' } },
          ],
        },
        {
          role: 'assistant',
          content: 'Looking.',
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'done' },
      ]),
    ).toEqual([
      { type: 'message', role: 'system', content: 'sys' },
      {
        type: 'message',
        role: 'user',
        content: [
          { type: 'input_text', text: 'see ' },
          { type: 'input_image', image_url: 'https://x/y.png', detail: 'high' },
        ],
      },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Looking.' }] },
      { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
      { type: 'function_call_output', call_id: 'c1', output: 'done' },
    ]);
  });

  it('maps options and always streams without storing upstream', () => {
    expect(
      responsesRequestOf({
        model: 'up',
        messages: [{ role: 'user', content: 'hi' }],
        max_completion_tokens: 12,
        temperature: 0,
        stop: ['x'],
        tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
        tool_choice: { type: 'function', function: { name: 'f' } },
        response_format: { type: 'json_schema', json_schema: { name: 'o', schema: {} } },
        stream_options: { include_usage: true },
      }),
    ).toEqual({
      model: 'up',
      input: [{ type: 'message', role: 'user', content: 'hi' }],
      stream: true,
      store: false,
      max_output_tokens: 12,
      temperature: 0,
      tools: [{ type: 'function', name: 'f', parameters: {} }],
      tool_choice: { type: 'function', name: 'f' },
      text: { format: { type: 'json_schema', name: 'o', schema: {} } },
    });
  });

  it('sends the client’s own Responses request when one rides on the body', () => {
    const body = {
      model: 'up',
      messages: [{ role: 'user', content: 'ignored' }],
      [RESPONSES_REQUEST]: { model: 'client-name', input: 'hi', reasoning: { effort: 'high' } },
    };
    expect(responsesRequestOf(body)).toEqual({
      model: 'up',
      input: 'hi',
      reasoning: { effort: 'high' },
      stream: true,
      store: false,
    });
    // Never serialised toward a Chat server.
    expect(JSON.stringify({ ...body })).not.toContain('reasoning');
  });
});
