import { describe, expect, it } from 'vitest';
import { contextOf, type GoldenCase } from './golden.js';
import { scopeLimit } from './scope-limit.js';

const cases: GoldenCase[] = [
  {
    name: 'python: a blank line under `if` whose suffix goes on in the function may go on at that level',
    prefix: 'def f(xs):\n    total = 0\n    for x in xs:\n',
    suffix: '    return total\n',
    output: '        total += x\n    total *= 2\n\ndef g():\n    pass\n',
    expected: '        total += x\n    total *= 2\n\n',
  },
  {
    name: 'python: the same gap with nothing after it keeps to the loop body',
    prefix: 'def f(xs):\n    total = 0\n    for x in xs:\n',
    suffix: '',
    output: '        total += x\n    total *= 2\n',
    expected: '        total += x\n',
  },
  {
    name: 'python: stops before the next top-level function',
    prefix: 'def add(a, b):\n',
    suffix: '',
    output: '    return a + b\n\n\ndef sub(a, b):\n    return a - b\n',
    expected: '    return a + b\n\n\n',
  },
  {
    name: 'python: else/elif/except continue the block',
    prefix: 'def sign(x):\n    if x > 0:\n',
    suffix: '',
    output:
      '        return 1\n    elif x < 0:\n        return -1\n    else:\n        return 0\nprint(sign(3))\n',
    expected: '        return 1\n    elif x < 0:\n        return -1\n    else:\n        return 0\n',
  },
  {
    name: 'cursor after a block opener: only the body',
    prefix: 'for x in xs:',
    suffix: '\nprint("done")\n',
    output: '\n    total += x\nprint(total)',
    expected: '\n    total += x\n',
  },
  {
    name: 'javascript: keeps one closing line when the suffix does not close the block',
    prefix: 'function f(a) {\n',
    suffix: '',
    output: '  return a * 2;\n}\n\nfunction g() {\n  return 1;\n}\n',
    expected: '  return a * 2;\n}\n',
    language: 'javascript',
  },
  {
    name: 'javascript: drops the closing line when the suffix already closes',
    prefix: 'function f(a) {\n',
    suffix: '}\n',
    output: '  return a * 2;\n}\nfunction g() {}\n',
    expected: '  return a * 2;\n',
    language: 'javascript',
  },
  {
    name: 'javascript: } else { continues',
    prefix: 'function f(a) {\n  if (a) {\n',
    suffix: '}\n',
    output: '    x();\n  } else {\n    y();\n  }\n}\n',
    expected: '    x();\n  } else {\n    y();\n  }\n',
    language: 'javascript',
  },
  {
    name: 'mid-line call left open: stops after the call is closed',
    prefix: 'function f() {\n  const v = compute(',
    suffix: '\n}\n',
    output: 'a,\n    b,\n  );\n  return v;\n',
    expected: 'a,\n    b,\n  );\n',
    language: 'javascript',
  },
  {
    name: 'does not fire: sibling statements at the cursor level',
    prefix: 'def f(xs):\n    """Sum."""\n',
    suffix: '',
    output: '    total = 0\n    for x in xs:\n        total += x\n    return total\n',
    expected: '    total = 0\n    for x in xs:\n        total += x\n    return total\n',
  },
  {
    name: 'does not fire: single-line mode is left to the one-line rule',
    prefix: 'x = ',
    suffix: '\n',
    output: '1\ny = 2',
    expected: '1\ny = 2',
    lineMode: 'single',
  },
];

describe('scopeLimit', () => {
  it.each(cases)('$name', (c) => {
    expect(scopeLimit.apply(c.output, contextOf(c))).toBe(c.expected);
  });
});
