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
    name: 'python: the same gap at the end of the file may finish the function, not start another',
    prefix: 'def f(xs):\n    total = 0\n    for x in xs:\n',
    suffix: '',
    output: '        total += x\n    return total\n\n\ndef g():\n    pass\n',
    expected: '        total += x\n    return total\n\n\n',
  },
  {
    name: 'python: the same when the next top-level definition follows',
    prefix: 'def f(xs):\n    total = 0\n    for x in xs:\n',
    suffix: '\n\ndef g():\n    pass\n',
    output: '        total += x\n    return total\n',
    expected: '        total += x\n    return total\n',
  },
  {
    name: 'python: a gap whose suffix goes on in the loop keeps to the loop body',
    prefix: 'def f(xs):\n    total = 0\n    for x in xs:\n',
    suffix: '        total += x\n    return total\n',
    output: '        x = abs(x)\n    return total\n',
    expected: '        x = abs(x)\n',
  },
  {
    name: 'go: an if body at the end of the function may go on in the function',
    prefix: 'func sum(xs []int) int {\n\ttotal := 0\n\tfor _, x := range xs {\n\t\tif x > 0 {\n',
    suffix: '}\n',
    output: '\t\t\ttotal += x\n\t\t}\n\t}\n\treturn total\n}\n\nfunc other() {}\n',
    expected: '\t\t\ttotal += x\n\t\t}\n\t}\n\treturn total\n',
    language: 'go',
  },
  {
    name: 'python: an answer that is only a new top-level function inside a body is refused',
    prefix: 'def f(xs):\n    total = 0\n',
    suffix: '    return total\n',
    output: '\n\ndef _helper(values):\n    return sum(values)\n',
    expected: '\n\n',
  },
  {
    name: 'typescript: the same after an indented cursor line',
    prefix: 'export function clamp(v: number): number {\n  const low = 0;\n  ',
    suffix: '\n}\n',
    output: '\nexport function helper(x: number): number {\n  return x;\n}\n',
    expected: '\n',
    language: 'typescript',
  },
  {
    name: 'does not fire: a new top-level function after the last one, cursor at column 0',
    prefix: 'def f(xs):\n    return sum(xs)\n\n',
    suffix: '',
    output: 'def g(xs):\n    return max(xs)\n',
    expected: 'def g(xs):\n    return max(xs)\n',
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
