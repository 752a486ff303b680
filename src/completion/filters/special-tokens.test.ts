import { describe, expect, it } from 'vitest';
import { contextOf, type GoldenCase } from './golden.js';
import { specialTokens } from './special-tokens.js';

const cases: GoldenCase[] = [
  {
    name: 'cuts at the end-of-sentence token and drops what follows',
    prefix: 'def add(a, b):\n    ',
    suffix: '\n',
    output: 'return a + b<｜end▁of▁sentence｜>\n# junk\nimport os',
    expected: 'return a + b',
  },
  {
    name: 'cuts at a leaked FIM marker',
    prefix: 'x = ',
    suffix: '\n',
    output: '1<｜fim▁begin｜>def other():',
    expected: '1',
  },
  {
    name: 'strips a begin-of-sentence token that leaked mid-answer',
    prefix: 'x = ',
    suffix: '\n',
    output: '<｜begin▁of▁sentence｜>compute()',
    expected: 'compute()',
  },
  {
    name: 'removes a token cut off at the end of the stream',
    prefix: 'x = ',
    suffix: '\n',
    output: 'compute()<｜end▁of',
    expected: 'compute()',
  },
  {
    name: 'qwen tokens with pad stripped and endoftext cut',
    prefix: 'x = ',
    suffix: '\n',
    output: 'a<|fim_pad|>b<|endoftext|>c',
    expected: 'ab',
    specialTokens: ['<|endoftext|>', '<|fim_pad|>', '<|fim_prefix|>'],
  },
  {
    name: 'does not fire: ordinary code with pipes and angle brackets',
    prefix: 'if ',
    suffix: ':\n',
    output: 'a < b or c | d',
    expected: 'a < b or c | d',
  },
  {
    name: 'does not fire: a shift operator at the end is not a partial token',
    prefix: 'y = x ',
    suffix: '\n',
    output: '<<',
    expected: '<<',
  },
];

describe('specialTokens', () => {
  it.each(cases)('$name', (c) => {
    expect(specialTokens.apply(c.output, contextOf(c))).toBe(c.expected);
  });
});
