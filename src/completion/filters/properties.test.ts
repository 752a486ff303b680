import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FILTER_NAMES, type FilterName } from '../../config/schema.js';
import { decideLineMode } from '../rules/line-mode.js';
import { StopDetector } from '../stream/stop-detector.js';
import { cursorView, type FilterContext, type LineMode } from '../types.js';
import { DEEPSEEK_SPECIAL_TOKENS } from './golden.js';
import { runFilters } from './index.js';

const ALL_ON = Object.fromEntries(FILTER_NAMES.map((name) => [name, true])) as Record<FilterName, boolean>;

/** Realistic documents with a marked hole (`█`), its true middle, and the language. */
const SAMPLES: { language: string; document: string; middle: string }[] = [
  {
    language: 'python',
    document: 'def mean(xs):\n    if not xs:\n        return 0.0\n█    return total / len(xs)\n',
    middle: '    total = sum(xs)\n',
  },
  {
    language: 'python',
    document:
      'class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n█\n    def pop(self):\n        return self.items.pop()\n',
    middle: '        self.items.append(item)\n',
  },
  {
    language: 'python',
    document:
      'def count_words(text):\n    counts = {}\n    for word in text.split():\n█\n    return counts\n',
    middle: '        word = word.lower()\n        counts[word] = counts.get(word, 0) + 1\n',
  },
  {
    language: 'python',
    document: 'import os\n\npath = os.path.join(█, "config.yaml")\n',
    middle: 'os.getcwd()',
  },
  {
    language: 'typescript',
    document:
      'export function clamp(value: number, low: number, high: number): number {\n█\n}\n\nexport const ZERO = 0;\n',
    middle: '  if (value < low) {\n    return low;\n  }\n  return Math.min(value, high);',
  },
  {
    language: 'typescript',
    document: 'function greet(name: string) {\n  console.log(`Hello, ${█}`);\n}\n',
    middle: 'name',
  },
  {
    language: 'javascript',
    document: 'function sum(xs) {\n  let total = 0;\n  for (const x of xs) {\n█\n  }\n  return total;\n}\n',
    middle: '    total += x;',
  },
  {
    language: 'go',
    document: 'func max(a, b int) int {\n\tif a > b {\n█\n\t}\n\treturn b\n}\n',
    middle: '\t\treturn a',
  },
  {
    language: 'python',
    document: 'def f(x):\r\n    y = x * 2\r\n█    return y\r\n',
    middle: '    y += 1\r\n',
  },
  {
    language: 'python',
    document: 'def mad(xs):\n    mean █)\n',
    middle: '= sum(xs) / len(xs)\n    return sum(abs(x - mean) for x in xs) / len(xs',
  },
  {
    language: 'python',
    document: "def depth(s):\n    for c in s:\n        if c == █')':\n            d -= 1\n",
    middle: "'(':\n            d += 1\n        elif c == ",
  },
  {
    language: 'go',
    document:
      'func find(xs []int, x int) int {\n\tfor i, v := range xs {\n\t\tif v == x {█)\n\t\t}\n\t}\n\treturn -1\n}\n',
    middle: '\n\t\t\tlog.Printf("found %d", i',
  },
  {
    language: 'c',
    document: 'int sign(int x) {\n  if (x < 0) {\n    return -1;\n  } else {\n█\n  }\n}\n',
    middle: '    return 1;',
  },
  {
    language: 'python',
    document: 'def doubled_sum(xs):\n    total = sum(█)\n    return total\n',
    middle: '\n        x * 2\n        for x in xs',
  },
  {
    language: 'python',
    document: 'def defaults():\n    config = {█}\n    return config\n',
    middle: "\n        'retries': 3,\n        'timeout': 10,",
  },
  {
    language: 'typescript',
    document: 'export function area(w: number, h: number): number {\n  return multiply(█);\n}\n',
    middle: '\n    w,\n    h,',
  },
];

function split(document: string): { prefix: string; suffix: string } {
  const at = document.indexOf('█');
  return { prefix: document.slice(0, at), suffix: document.slice(at + 1) };
}

/**
 * Multi-line when the cursor line before the cursor is blank (the samples' whole-line holes sit
 * before the next line's text), otherwise what the engine would ask for.
 */
function lineModeOf(prefix: string, suffix: string, language: string): LineMode {
  if (cursorView(prefix, suffix).linePrefix.trim() === '') return 'multi';
  return decideLineMode({ prefix, suffix, language, stop: [], snippets: [], triggerMode: 'auto' }, 'auto');
}

const FRAGMENTS = [
  '    return total\n',
  '        if x > 0:\n',
  '    else:\n',
  '}\n',
  '  }\n',
  '  } else {\n',
  'def helper(values):\n',
  '\n',
  '\r\n',
  '   ',
  '\t',
  'x = 1\n',
  'x = 1\n',
  'print("héllo 😀")',
  ')',
  '<｜end▁of▁sentence｜>',
  '<｜begin▁of▁sentence｜>',
  '<｜fim▁hole｜>',
  '<｜fim',
  '<|EOT|>',
  'foo(bar(1, 2))',
  '        x * 2\n',
  '    )\n',
];

const outputArb = fc.oneof(
  fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 14 }).map((parts) => parts.join('')),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .tuple(fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 8 }), fc.string({ maxLength: 12 }))
    .map(([parts, noise]) => parts.join('') + noise),
);

const contextArb: fc.Arbitrary<FilterContext> = fc.record({
  prefix: fc.oneof(
    fc.constantFrom(...SAMPLES.map((s) => split(s.document).prefix)),
    fc.constantFrom(
      '',
      'x = ',
      'def f(xs):\n    ',
      'if (a) {\n',
      'a\r\nb\r\n',
      'def f(xs):\n    total = sum(',
      '    mean ',
      '  for (int i = 0; i < n; i++) {',
    ),
  ),
  suffix: fc.oneof(
    fc.constantFrom(...SAMPLES.map((s) => split(s.document).suffix)),
    fc.constantFrom(
      '',
      '\n',
      ')\n',
      '}\n',
      '  }\n}\n',
      '    return total\n',
      '))\n    return x\n',
      "'):\n",
      ');\n  }\n}\n',
    ),
  ),
  language: fc.constantFrom('python', 'typescript', 'go', 'c'),
  lineMode: fc.constantFrom<LineMode>('single', 'multi'),
  specialTokens: fc.constant(DEEPSEEK_SPECIAL_TOKENS),
});

describe('runFilters properties', () => {
  it('is idempotent', () => {
    fc.assert(
      fc.property(contextArb, outputArb, (ctx, output) => {
        const once = runFilters(output, ctx, ALL_ON);
        const twice = runFilters(once.text, ctx, ALL_ON);
        expect(twice.text).toBe(once.text);
        expect(twice.hits).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });

  it('never returns a special token', () => {
    fc.assert(
      fc.property(contextArb, outputArb, (ctx, output) => {
        const { text } = runFilters(output, ctx, ALL_ON);
        for (const token of ctx.specialTokens) expect(text).not.toContain(token);
      }),
      { numRuns: 1000 },
    );
  });

  it('never returns a line break in single-line mode, whatever is switched off', () => {
    const filterSwitches = fc.record(
      Object.fromEntries(FILTER_NAMES.map((name) => [name, fc.boolean()])) as Record<
        FilterName,
        fc.Arbitrary<boolean>
      >,
    );
    fc.assert(
      fc.property(contextArb, outputArb, filterSwitches, (ctx, output, enabled) => {
        const { text } = runFilters(output, { ...ctx, lineMode: 'single' }, enabled);
        expect(text).not.toMatch(/[\r\n]/);
      }),
      { numRuns: 1000 },
    );
  });

  it.each(SAMPLES.map((s, i) => ({ ...s, i })))(
    'returns the true middle unchanged (sample $i, $language)',
    (sample) => {
      const { prefix, suffix } = split(sample.document);
      const ctx: FilterContext = {
        prefix,
        suffix,
        language: sample.language,
        lineMode: lineModeOf(prefix, suffix, sample.language),
        specialTokens: DEEPSEEK_SPECIAL_TOKENS,
      };
      const detector = new StopDetector({
        prefix,
        suffix,
        lineMode: ctx.lineMode,
        stop: [],
        specialTokens: DEEPSEEK_SPECIAL_TOKENS,
      });
      detector.push(sample.middle);
      expect(detector.text()).toBe(sample.middle);
      expect(runFilters(sample.middle, ctx, ALL_ON)).toEqual({ text: sample.middle, hits: [] });
    },
  );

  it('reports the filters that changed the text, in order', () => {
    const ctx: FilterContext = {
      prefix: 'def f(xs):\n',
      suffix: '    return total\n',
      language: 'python',
      lineMode: 'multi',
      specialTokens: DEEPSEEK_SPECIAL_TOKENS,
    };
    const output = '    total = sum(xs)   \n    return total\n<｜end▁of▁sentence｜>junk';
    expect(runFilters(output, ctx, ALL_ON)).toEqual({
      text: '    total = sum(xs)\n',
      hits: ['specialTokens', 'suffixOverlap', 'trailingWhitespace'],
    });
  });
});
