import { describe, expect, it } from 'vitest';
import { duplicatedClosingLine } from './duplicated-closing-line.js';
import { contextOf, type GoldenCase } from './golden.js';

const cases: GoldenCase[] = [
  {
    name: 'the answer closes the block the suffix already closes',
    prefix: 'function f(a) {\n  if (a) {\n',
    suffix: '  }\n}\n',
    output: '    run(a);\n  }\n',
    expected: '    run(a);\n',
    language: 'javascript',
  },
  {
    name: 'the suffix continues with } else {',
    prefix: 'if (a) {\n',
    suffix: '} else {\n  b();\n}\n',
    output: '  a();\n}',
    expected: '  a();',
    language: 'javascript',
  },
  {
    name: '}); in both',
    prefix: "describe('x', () => {\n  it('y', () => {\n",
    suffix: '  });\n});\n',
    output: '    expect(1).toBe(1);\n  });\n',
    expected: '    expect(1).toBe(1);\n',
    language: 'typescript',
  },
  {
    name: 'does not fire: the closer closes a block the answer opened',
    prefix: 'function f(a) {\n',
    suffix: '}\n',
    output: 'if (a) {\n  run(a);\n}\n',
    expected: 'if (a) {\n  run(a);\n}\n',
    language: 'javascript',
  },
  {
    name: 'does not fire: the suffix closer is one level further out',
    prefix: 'function f(a) {\n  if (a) {\n',
    suffix: '}\n',
    output: '    run(a);\n  }\n',
    expected: '    run(a);\n  }\n',
    language: 'javascript',
  },
  {
    name: 'does not fire: last line is not a closer',
    prefix: 'def f():\n',
    suffix: '    return 1\n',
    output: '    x = 1\n',
    expected: '    x = 1\n',
  },
];

describe('duplicatedClosingLine', () => {
  it.each(cases)('$name', (c) => {
    expect(duplicatedClosingLine.apply(c.output, contextOf(c))).toBe(c.expected);
  });
});
