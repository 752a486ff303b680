import { describe, expect, it } from 'vitest';
import type { FimFamily } from '../../config/schema.js';
import type { CompletionInput } from '../types.js';
import { buildPrompt, type PromptModelSettings, type PromptOptions } from './build.js';

const input: CompletionInput = {
  prefix: 'import os\n\ndef greet(name):\n    ',
  suffix: '\n\nprint(greet("x"))\n',
  language: 'python',
  stop: ['\n\n'],
  snippets: [{ path: 'util.py', content: 'def shout(s):\n    return s.upper()\n', distance: 1 }],
  triggerMode: 'auto',
};
const CONTEXT = '# path: util.py\n# def shout(s):\n#     return s.upper()\n';
const roomy: PromptOptions = { maxTokens: 256, suffixShare: 0.25, contextShare: 0.25, lineMode: 'multi' };

function model(settings: Partial<PromptModelSettings>): PromptModelSettings {
  return { fim: 'template', contextWindow: 8192, charsPerToken: 3, stop: [], ...settings };
}

describe('buildPrompt golden prompts per family', () => {
  const P = 'import os\n\ndef greet(name):\n    ';
  const S = '\n\nprint(greet("x"))\n';
  const cases: Array<[FimFamily, string]> = [
    ['deepseek-coder', `<｜fim▁begin｜>${CONTEXT}${P}<｜fim▁hole｜>${S}<｜fim▁end｜>`],
    ['qwen2.5-coder', `<|fim_prefix|>${CONTEXT}${P}<|fim_suffix|>${S}<|fim_middle|>`],
    ['starcoder', `<fim_prefix>${CONTEXT}${P}<fim_suffix>${S}<fim_middle>`],
    ['starcoder2', `<fim_prefix>${CONTEXT}${P}<fim_suffix>${S}<fim_middle>`],
    ['codeqwen', `<fim_prefix>${CONTEXT}${P}<fim_suffix>${S}<fim_middle>`],
    ['stable-code', `<fim_prefix>${CONTEXT}${P}<fim_suffix>${S}<fim_middle>`],
    ['codellama', `<PRE> ${CONTEXT}${P} <SUF>${S} <MID>`],
    ['codegemma', `<|fim_prefix|>${CONTEXT}${P}<|fim_suffix|>${S}<|fim_middle|>`],
    ['codestral', `[SUFFIX]${S}[PREFIX]${CONTEXT}${P}`],
  ];

  it.each(cases)('%s', (family, expected) => {
    const built = buildPrompt(input, model({ family }), roomy);
    expect(built.prompt).toBe(expected);
    expect(built.suffix).toBeUndefined();
    expect(built.usedPrefix).toBe(P);
    expect(built.usedSuffix).toBe(S);
    expect(built.includedSnippets).toEqual([0]);
  });

  it('spells the codellama prompt with its spaces', () => {
    expect(buildPrompt({ ...input, snippets: [] }, model({ family: 'codellama' }), roomy).prompt).toBe(
      '<PRE> import os\n\ndef greet(name):\n     <SUF>\n\nprint(greet("x"))\n <MID>',
    );
  });

  it('puts codestral suffix first, and the context inside the prefix part', () => {
    const built = buildPrompt(input, model({ family: 'codestral' }), roomy);
    expect(built.prompt.indexOf('[SUFFIX]')).toBe(0);
    expect(built.prompt.indexOf('[PREFIX]# path: util.py')).toBeGreaterThan(
      built.prompt.indexOf('print(greet'),
    );
  });

  it('adds no line break when there is no context', () => {
    const built = buildPrompt({ ...input, snippets: [] }, model({ family: 'deepseek-coder' }), roomy);
    expect(built.prompt).toBe(`<｜fim▁begin｜>${P}<｜fim▁hole｜>${S}<｜fim▁end｜>`);
  });

  it('reports exact stops, special tokens and the token estimate (deepseek, single line)', () => {
    const built = buildPrompt(
      input,
      model({ family: 'deepseek-coder', stop: ['<|EOT|>', '', '\n\n', 'END'] }),
      {
        ...roomy,
        lineMode: 'single',
      },
    );
    expect(built.stop).toEqual([
      '\n\n',
      '<|EOT|>',
      'END',
      '<｜end▁of▁sentence｜>',
      '<｜fim▁begin｜>',
      '<｜fim▁hole｜>',
      '<｜fim▁end｜>',
      '\n',
    ]);
    expect(built.specialTokens).toEqual([
      '<｜end▁of▁sentence｜>',
      '<|EOT|>',
      '<｜fim▁begin｜>',
      '<｜fim▁hole｜>',
      '<｜fim▁end｜>',
      '<｜begin▁of▁sentence｜>',
    ]);
    // 3 tags + ceil((55 context + 32 prefix + 20 suffix) / 3)
    expect([CONTEXT.length, P.length, S.length]).toEqual([55, 32, 20]);
    expect(built.promptTokens).toBe(3 + 36);
    // Sent piece by piece: the tags apart from the user's code, which joined give the prompt.
    expect(built.promptParts.join('')).toBe(built.prompt);
    expect(built.promptParts).toEqual(['<｜fim▁begin｜>', CONTEXT + P, '<｜fim▁hole｜>', S, '<｜fim▁end｜>']);
  });
});

describe('buildPrompt with a custom template', () => {
  it('renders it and treats its literal parts as special tokens', () => {
    const built = buildPrompt(
      { ...input, snippets: [] },
      model({ template: '<s><PRE> {prefix} <SUF>{suffix} <MID>', family: 'deepseek-coder' }),
      roomy,
    );
    expect(built.prompt).toBe(`<s><PRE> ${input.prefix} <SUF>${input.suffix} <MID>`);
    expect(built.specialTokens).toEqual(['<s><PRE>', '<SUF>', '<MID>']);
    expect(built.stop).toEqual(['\n\n', '<s><PRE>', '<SUF>', '<MID>']);
  });
});

describe('buildPrompt with fim: suffix', () => {
  it('sends context + prefix as the prompt and the suffix separately', () => {
    const built = buildPrompt(input, model({ fim: 'suffix', family: 'qwen2.5-coder' }), roomy);
    expect(built.prompt).toBe(CONTEXT + input.prefix);
    expect(built.suffix).toBe(input.suffix);
    expect(built.specialTokens).toContain('<|fim_middle|>');
    expect(built.stop).toContain('<|endoftext|>');
    // The backend adds the 3 tags itself, so they are counted: 3 + ceil(87/3) + ceil(20/3).
    expect(built.promptTokens).toBe(3 + 29 + 7);
  });

  it('works without a family and reports no special tokens', () => {
    const built = buildPrompt({ ...input, snippets: [] }, model({ fim: 'suffix' }), roomy);
    expect(built).toEqual({
      prompt: input.prefix,
      promptParts: [input.prefix],
      suffix: input.suffix,
      stop: ['\n\n'],
      specialTokens: [],
      usedPrefix: input.prefix,
      usedSuffix: input.suffix,
      promptTokens: 11 + 7,
      includedSnippets: [],
    });
  });

  it('refuses fim: template without a family or template', () => {
    expect(() => buildPrompt(input, model({}), roomy)).toThrow(/needs a `family` or a `template`/);
  });
});

describe('buildPrompt budgeting', () => {
  it('leaves only the template when the output takes the whole window', () => {
    const built = buildPrompt(input, model({ family: 'deepseek-coder', contextWindow: 300 }), {
      ...roomy,
      maxTokens: 297,
    });
    expect(built.prompt).toBe('<｜fim▁begin｜><｜fim▁hole｜><｜fim▁end｜>');
    expect(built.promptTokens).toBe(3);
    expect(built.includedSnippets).toEqual([]);
  });

  it('keeps CRLF line breaks at the cuts', () => {
    const crlf: CompletionInput = {
      ...input,
      prefix: 'a = 1\r\nb = 2\r\nc = ',
      suffix: '\r\nd = 4\r\ne = 5\r\n',
      snippets: [{ path: 'x.py', content: 'z = 0', distance: 0 }],
    };
    // 1 char per token, budget 30 - 5 - 3 = 22: suffix ≤ 11 keeps 9; the 23-token snippet does
    // not fit its 5, so the prefix gets 22 - 9 = 13 and keeps its last two lines (11).
    const built = buildPrompt(crlf, model({ family: 'starcoder', contextWindow: 30, charsPerToken: 1 }), {
      ...roomy,
      maxTokens: 5,
      suffixShare: 0.5,
    });
    expect(built.usedPrefix).toBe('b = 2\r\nc = ');
    expect(built.usedSuffix).toBe('\r\nd = 4\r\n');
    expect(built.includedSnippets).toEqual([]);
    expect(built.prompt).toBe('<fim_prefix>b = 2\r\nc = <fim_suffix>\r\nd = 4\r\n<fim_middle>');
    expect(built.promptTokens).toBe(3 + 11 + 9);
  });

  it("writes the context with the document's CRLF line breaks", () => {
    const built = buildPrompt(
      {
        ...input,
        prefix: 'a = 1\r\n',
        suffix: '',
        snippets: [{ path: 'x.py', content: 'z = 0\n', distance: 0 }],
      },
      model({ family: 'starcoder' }),
      roomy,
    );
    expect(built.prompt).toBe('<fim_prefix># path: x.py\r\n# z = 0\r\na = 1\r\n<fim_suffix><fim_middle>');
  });

  it('does not split a FIM tag that occurs in the user code at the cut', () => {
    const withTag: CompletionInput = {
      ...input,
      prefix: 'x = "<｜fim▁hole｜>"',
      suffix: '',
      snippets: [],
    };
    // 1 char per token and the tag counts 1: budget 10 - 3 - 3 = 4 tokens. Counting characters
    // a cut would fall inside the tag; it is kept whole instead.
    const built = buildPrompt(
      withTag,
      model({ family: 'deepseek-coder', contextWindow: 10, charsPerToken: 1 }),
      {
        ...roomy,
        maxTokens: 3,
      },
    );
    expect(built.usedPrefix).toBe(' "<｜fim▁hole｜>"');
    expect(built.prompt).toBe('<｜fim▁begin｜> "<｜fim▁hole｜>"<｜fim▁hole｜><｜fim▁end｜>');
    expect(built.promptTokens).toBe(7);
  });
});
