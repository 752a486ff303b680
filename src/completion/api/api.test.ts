import { describe, expect, it } from 'vitest';
import { badRequestFromZod } from '../../http/errors.js';
import type { CompletionOutcome } from '../engine.js';
import { codeCompletionBody, codeCompletionInput, codeCompletionSupersedeKey } from './code-completion.js';
import {
  extensionInput,
  extensionSupersedeKey,
  extensionV2Body,
  normaliseLanguage,
  splitLegacyPrompt,
} from './extension-v2.js';
import { openAiCompletionBody, openAiInput, openAiReply, openAiStream } from './openai.js';
import { completionStream, extensionReply, newCompletionId, outcomeReason } from './shared.js';

const v2 = (body: unknown) => extensionInput(extensionV2Body.parse(body));
const cc = (body: unknown) => codeCompletionInput(codeCompletionBody.parse(body));
const oa = (body: unknown) => openAiInput(openAiCompletionBody.parse(body));

/** The 400 a route would answer for this body. */
function refusal(schema: { safeParse(b: unknown): { success: boolean; error?: unknown } }, body: unknown) {
  const r = schema.safeParse(body);
  expect(r.success).toBe(false);
  const err = badRequestFromZod(r.error as Parameters<typeof badRequestFromZod>[0]);
  return { message: err.message, param: err.param };
}

describe('/v2/completions body → CompletionInput', () => {
  it('maps prompt_options, language, stop, sampling and code_context', () => {
    expect(
      v2({
        model: 'whatever',
        prompt_options: { prefix: 'def f(', suffix: ')\n', code_context: '# other.py\nx = 1' },
        language_id: 'python',
        stop: ['\n\n'],
        temperature: 0.2,
        max_tokens: 64,
        trigger_mode: 'manual',
      }),
    ).toEqual({
      prefix: 'def f(',
      suffix: ')\n',
      language: 'python',
      stop: ['\n\n'],
      snippets: [{ content: '# other.py\nx = 1', distance: 0 }],
      triggerMode: 'manual',
      maxTokens: 64,
      temperature: 0.2,
    });
  });

  it('fills the defaults of a minimal body', () => {
    expect(v2({ prompt_options: { prefix: 'x = ' } })).toEqual({
      prefix: 'x = ',
      suffix: '',
      language: '',
      stop: [],
      snippets: [],
      triggerMode: 'auto',
    });
  });

  it('splits a legacy prompt at <FILL_HERE>', () => {
    const input = v2({ prompt: 'def add(a, b):\n    <FILL_HERE>\n\nprint(1)\n', language_id: 'python' });
    expect(input.prefix).toBe('def add(a, b):\n    ');
    expect(input.suffix).toBe('\n\nprint(1)\n');
  });

  it('treats a legacy prompt without <FILL_HERE> as all prefix', () => {
    expect(splitLegacyPrompt('abc')).toEqual({ prefix: 'abc', suffix: '' });
    expect(splitLegacyPrompt('<FILL_HERE>x')).toEqual({ prefix: '', suffix: 'x' });
    expect(splitLegacyPrompt('a<FILL_HERE>b<FILL_HERE>c')).toEqual({ prefix: 'a', suffix: 'b<FILL_HERE>c' });
  });

  it('prefers prompt_options over a legacy prompt', () => {
    const input = v2({ prompt: 'old<FILL_HERE>old', prompt_options: { prefix: 'new', suffix: 'er' } });
    expect([input.prefix, input.suffix]).toEqual(['new', 'er']);
  });

  it('reads stop ["\\n","\\r"] (the inline completion setting) as single-line mode', () => {
    const input = v2({ prompt_options: { prefix: 'x' }, stop: ['\n', '\r'] });
    expect(input.lineMode).toBe('single');
    expect(input.stop).toEqual(['\n', '\r']);
  });

  it('accepts stop as one string, and null as none', () => {
    const one = v2({ prompt_options: { prefix: 'x' }, stop: '\n' });
    expect(one.stop).toEqual(['\n']);
    expect(one.lineMode).toBe('single');
    const none = v2({ prompt_options: { prefix: 'x' }, stop: null });
    expect(none.stop).toEqual([]);
    expect(none).not.toHaveProperty('lineMode');
  });

  it('leaves line mode open for other stop strings', () => {
    expect(v2({ prompt_options: { prefix: 'x' }, stop: ['\n\n'] })).not.toHaveProperty('lineMode');
  });

  it('normalises the language id', () => {
    expect(v2({ prompt_options: { prefix: 'x' }, language_id: 'c++' }).language).toBe('cpp');
    expect(normaliseLanguage(' C++ ')).toBe('cpp');
    expect(normaliseLanguage('TypeScript')).toBe('typescript');
    expect(normaliseLanguage(undefined)).toBe('');
  });

  it('reads an empty trigger_mode as auto', () => {
    expect(v2({ prompt_options: { prefix: 'x' }, trigger_mode: '' }).triggerMode).toBe('auto');
    expect(v2({ prompt_options: { prefix: 'x' }, trigger_mode: 'continue' }).triggerMode).toBe('continue');
  });

  it('refuses a body with neither prompt_options nor prompt', () => {
    expect(refusal(extensionV2Body, { language_id: 'python' })).toEqual({
      message: 'prompt_options: required (or a legacy `prompt` with <FILL_HERE>)',
      param: 'prompt_options',
    });
  });

  it('refuses a non-string prefix naming prompt_options.prefix', () => {
    expect(refusal(extensionV2Body, { prompt_options: { prefix: 1 } })).toEqual({
      message: 'prompt_options.prefix: must be a string',
      param: 'prompt_options.prefix',
    });
  });

  it('refuses a bad trigger_mode and temperature naming the field', () => {
    expect(refusal(extensionV2Body, { prompt_options: { prefix: 'x' }, trigger_mode: 'always' }).param).toBe(
      'trigger_mode',
    );
    expect(refusal(extensionV2Body, { prompt_options: { prefix: 'x' }, temperature: 3 }).param).toBe(
      'temperature',
    );
  });

  it('keys supersession by caller and the completion stream of completion_id', () => {
    const key = (completion_id?: string) =>
      extensionSupersedeKey(
        extensionV2Body.parse({ prompt_options: { prefix: 'x' }, completion_id }),
        'user:7',
      );
    expect(key('12-abc')).toBe('v2:user:7:abc');
    expect(key('13-abc')).toBe(key('12-abc'));
    expect(key('12-xyz')).not.toBe(key('12-abc'));
    expect(key('12-a-b')).toBe('v2:user:7:a-b');
    expect(key('12')).toBeUndefined();
    expect(key(undefined)).toBeUndefined();
    expect(completionStream('')).toBeUndefined();
  });
});

describe('/code-completion/api/v1/completions body → CompletionInput', () => {
  it('maps the /v2 fields the same way', () => {
    const body = {
      prompt_options: { prefix: 'int main() {', suffix: '}', code_context: 'ctx' },
      language_id: 'c++',
      stop: ['\n', '\r'],
      max_tokens: 32,
      trigger_mode: 'manual',
    };
    expect(cc(body)).toEqual(v2(body));
  });

  it('adds import_content as a snippet at distance 1 with the file path', () => {
    const input = cc({
      prompt_options: { prefix: 'x', code_context: 'near' },
      import_content: 'import os\nimport sys\n',
      file_project_path: 'src/app/main.py',
      project_path: '/home/me/app',
    });
    expect(input.snippets).toEqual([
      { content: 'near', distance: 0 },
      { content: 'import os\nimport sys\n', distance: 1, path: 'src/app/main.py' },
    ]);
  });

  it('adds import_content without a path when no file path is sent', () => {
    expect(cc({ prompt_options: { prefix: 'x' }, import_content: 'import os' }).snippets).toEqual([
      { content: 'import os', distance: 1 },
    ]);
  });

  it('ignores blank import_content', () => {
    expect(cc({ prompt_options: { prefix: 'x' }, import_content: ' \n\t' }).snippets).toEqual([]);
  });

  it.each([
    ['stop as one string', { stop: '\n' }],
    ['stop: null', { stop: null }],
    ['trigger_mode: ""', { trigger_mode: '' }],
  ])('accepts %s like /v2 does', (_name, extra) => {
    const body = { prompt_options: { prefix: 'x' }, ...extra };
    let result: ReturnType<typeof codeCompletionBody.safeParse> | undefined;
    expect(() => {
      result = codeCompletionBody.safeParse(body);
    }).not.toThrow();
    expect(result?.success).toBe(true);
    expect(cc(body)).toEqual(v2(body));
  });

  it('keys supersession by caller and client_id', () => {
    const key = (client_id?: string) =>
      codeCompletionSupersedeKey(
        codeCompletionBody.parse({ prompt_options: { prefix: 'x' }, client_id }),
        'k1',
      );
    expect(key('c-42')).toBe('cc:k1:c-42');
    expect(key(undefined)).toBeUndefined();
    expect(key('')).toBeUndefined();
  });

  it('refuses an over-long client_id naming it', () => {
    expect(
      refusal(codeCompletionBody, { prompt_options: { prefix: 'x' }, client_id: 'x'.repeat(201) }).param,
    ).toBe('client_id');
  });
});

describe('/v1/completions (OpenAI) body → CompletionInput', () => {
  it('maps prompt, suffix, sampling, model and language, always as a manual trigger', () => {
    expect(
      oa({
        model: 'coder',
        prompt: 'def f(',
        suffix: ')',
        max_tokens: 16,
        temperature: 0,
        stop: ['\n'],
        language: 'Python',
      }),
    ).toEqual({
      prefix: 'def f(',
      suffix: ')',
      language: 'python',
      stop: ['\n'],
      snippets: [],
      triggerMode: 'manual',
      maxTokens: 16,
      temperature: 0,
      model: 'coder',
    });
  });

  it('accepts the prompt as a one-element array', () => {
    expect(oa({ prompt: ['let x = '] }).prefix).toBe('let x = ');
  });

  it('reads null optional fields as unset', () => {
    expect(
      oa({ prompt: 'a', suffix: null, max_tokens: null, temperature: null, stop: null, n: null, echo: null }),
    ).toEqual({ prefix: 'a', suffix: '', language: '', stop: [], snippets: [], triggerMode: 'manual' });
  });

  it('accepts n: 1, echo: false and best_of: 1', () => {
    expect(openAiCompletionBody.safeParse({ prompt: 'a', n: 1, echo: false, best_of: 1 }).success).toBe(true);
  });

  it('refuses n: 2 naming the field', () => {
    expect(refusal(openAiCompletionBody, { prompt: 'a', n: 2 })).toEqual({
      message: 'n: only n=1 is supported',
      param: 'n',
    });
  });

  it('refuses echo: true naming the field', () => {
    expect(refusal(openAiCompletionBody, { prompt: 'a', echo: true })).toEqual({
      message: 'echo: echo is not supported',
      param: 'echo',
    });
  });

  it('refuses best_of > 1 naming the field', () => {
    expect(refusal(openAiCompletionBody, { prompt: 'a', best_of: 2 })).toEqual({
      message: 'best_of: only best_of=1 is supported',
      param: 'best_of',
    });
  });

  it('refuses a missing prompt naming it', () => {
    expect(refusal(openAiCompletionBody, { suffix: 'x' }).param).toBe('prompt');
  });

  it('refuses several prompts, saying only one is supported', () => {
    expect(refusal(openAiCompletionBody, { prompt: ['a', 'b'] })).toEqual({
      message: 'prompt: only one prompt per request is supported',
      param: 'prompt',
    });
  });

  it('refuses more than 16 stop strings, saying so', () => {
    expect(
      refusal(openAiCompletionBody, { prompt: 'a', stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }),
    ).toEqual({ message: 'stop: at most 16 stop strings', param: 'stop' });
  });
});

const timings = { queueMs: 1, promptMs: 0.5, firstTokenMs: 40.123, totalMs: 87.6 };

function completed(over: Partial<Extract<CompletionOutcome, { kind: 'completed' }>> = {}): CompletionOutcome {
  return {
    kind: 'completed',
    model: 'coder',
    text: 'return a + b',
    source: 'model',
    finishReason: 'stop',
    filters: ['trailingWhitespace', 'scopeLimit'],
    rawText: 'return a + b  \n',
    lineMode: 'single',
    promptTokens: 30,
    completionTokens: 5,
    timings,
    replica: 'http://127.0.0.1:8000/v1',
    ...over,
  };
}

const rejected: CompletionOutcome = { kind: 'rejected', model: 'coder', rule: 'insideWord', timings };

describe('extensionReply', () => {
  it('carries a completed suggestion as the one choice', () => {
    const r = extensionReply('cmpl-1', completed(), false);
    expect(r).toMatchObject({
      id: 'cmpl-1',
      object: 'text_completion',
      model: 'coder',
      choices: [{ index: 0, text: 'return a + b', finish_reason: 'stop' }],
      usage: { prompt_tokens: 30, completion_tokens: 5, total_tokens: 35 },
      reason: 'model',
      cost_time: 88,
      server_extra_kwargs: { is_cache: false, hit_processors: 'trailingWhitespace,scopeLimit' },
    });
    expect(r).not.toHaveProperty('debug');
    expect(Math.abs(r.created - Date.now() / 1000)).toBeLessThan(5);
  });

  it('answers a rejected request with empty choices, the rule as reason and rejected_code', () => {
    const r = extensionReply('cmpl-2', rejected, false);
    expect(r.choices).toEqual([]);
    expect(r.reason).toBe('rejected:insideWord');
    expect(r.usage).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
    expect(r.server_extra_kwargs).toEqual({
      is_cache: false,
      hit_processors: '',
      rejected_code: 'insideWord',
    });
  });

  it('answers an empty completion with empty choices and reason "empty"', () => {
    const r = extensionReply('cmpl-3', completed({ text: '' }), false);
    expect(r.choices).toEqual([]);
    expect(r.reason).toBe('empty');
    expect(r.server_extra_kwargs).not.toHaveProperty('rejected_code');
  });

  it('answers superseded and client_gone outcomes with empty choices and their reason', () => {
    expect(extensionReply('c', { kind: 'superseded', model: 'coder', timings }, false)).toMatchObject({
      choices: [],
      reason: 'superseded',
    });
    expect(extensionReply('c', { kind: 'client_gone', model: 'coder', timings }, false)).toMatchObject({
      choices: [],
      reason: 'client_gone',
    });
  });

  it('flags cache and typed-through answers as cached', () => {
    expect(extensionReply('c', completed({ source: 'cache' }), false).server_extra_kwargs.is_cache).toBe(
      true,
    );
    expect(
      extensionReply('c', completed({ source: 'typed_through' }), false).server_extra_kwargs.is_cache,
    ).toBe(true);
    expect(extensionReply('c', completed({ source: 'deadline_partial' }), false).reason).toBe(
      'deadline_partial',
    );
  });

  it('adds debug details only when verbose', () => {
    expect(extensionReply('c', completed(), true).debug).toEqual({
      filters: ['trailingWhitespace', 'scopeLimit'],
      raw_text: 'return a + b  \n',
      line_mode: 'single',
      prompt_tokens: 30,
      timings_ms: { queueMs: 1, promptMs: 0.5, firstTokenMs: 40.12, totalMs: 87.6 },
      replica: 'http://127.0.0.1:8000/v1',
    });
  });
});

describe('openAiReply', () => {
  it('carries the text and finish reason of a completed outcome', () => {
    const r = openAiReply('cmpl-1', completed({ finishReason: 'length' }), false);
    expect(r.choices).toEqual([{ index: 0, text: 'return a + b', logprobs: null, finish_reason: 'length' }]);
    expect(r.usage.total_tokens).toBe(35);
    expect(r.shenma).toEqual({ reason: 'model' });
  });

  it('answers a rejected outcome with empty text, finish stop and the reason', () => {
    const r = openAiReply('cmpl-1', rejected, false);
    expect(r.choices).toEqual([{ index: 0, text: '', logprobs: null, finish_reason: 'stop' }]);
    expect(r.shenma.reason).toBe('rejected:insideWord');
  });
});

describe('openAiStream', () => {
  function events(sse: string): string[] {
    expect(sse.endsWith('\n\n')).toBe(true);
    return sse
      .slice(0, -2)
      .split('\n\n')
      .map((e) => {
        expect(e.startsWith('data: ')).toBe(true);
        return e.slice('data: '.length);
      });
  }

  it('sends one text chunk, one finish chunk, then [DONE]', () => {
    const sse = openAiStream('cmpl-9', completed());
    expect(sse.endsWith('data: [DONE]\n\n')).toBe(true);
    const data = events(sse);
    expect(data).toHaveLength(3);
    expect(data[2]).toBe('[DONE]');
    const [text, finish] = [JSON.parse(data[0]!), JSON.parse(data[1]!)];
    expect(text).toMatchObject({
      id: 'cmpl-9',
      object: 'text_completion',
      model: 'coder',
      choices: [{ index: 0, text: 'return a + b', logprobs: null, finish_reason: null }],
    });
    expect(finish.choices).toEqual([{ index: 0, text: '', logprobs: null, finish_reason: 'stop' }]);
  });

  it('sends only the finish chunk and [DONE] when there is no text', () => {
    const data = events(openAiStream('cmpl-9', rejected));
    expect(data).toHaveLength(2);
    expect(JSON.parse(data[0]!).choices[0]).toEqual({
      index: 0,
      text: '',
      logprobs: null,
      finish_reason: 'stop',
    });
    expect(data[1]).toBe('[DONE]');
  });
});

describe('shared helpers', () => {
  it('newCompletionId makes distinct cmpl- ids', () => {
    const a = newCompletionId();
    expect(a).toMatch(/^cmpl-[A-Za-z0-9_-]{20}$/);
    expect(newCompletionId()).not.toBe(a);
  });

  it('outcomeReason names each outcome', () => {
    expect(outcomeReason(completed())).toBe('model');
    expect(outcomeReason(completed({ text: '' }))).toBe('empty');
    expect(outcomeReason(rejected)).toBe('rejected:insideWord');
  });
});
