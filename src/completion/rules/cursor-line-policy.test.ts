import { describe, expect, it } from 'vitest';
import { FILTER_NAMES, type FilterName } from '../../config/schema.js';
import { DEEPSEEK_SPECIAL_TOKENS } from '../filters/golden.js';
import { runFilters } from '../filters/index.js';
import { StopDetector } from '../stream/stop-detector.js';
import type { CompletionInput } from '../types.js';
import { decideLineMode } from './line-mode.js';

const ALL_ON = Object.fromEntries(FILTER_NAMES.map((name) => [name, true])) as Record<FilterName, boolean>;

interface PolicyCase {
  name: string;
  language: string;
  prefix: string;
  suffix: string;
  /** What the model streams. */
  output: string;
  /** What the editor is sent. */
  expected: string;
}

/**
 * The whole answer path for one request, as the engine runs it: line mode, the stream stop
 * detector (fed in small pieces), then the filters.
 */
function answer(c: PolicyCase, pieceChars: number): string {
  const input: CompletionInput = {
    prefix: c.prefix,
    suffix: c.suffix,
    language: c.language,
    stop: [],
    snippets: [],
    triggerMode: 'auto',
  };
  const lineMode = decideLineMode(input, 'auto');
  const detector = new StopDetector({
    prefix: c.prefix,
    suffix: c.suffix,
    language: c.language,
    lineMode,
    stop: lineMode === 'single' ? ['\n'] : [],
    specialTokens: DEEPSEEK_SPECIAL_TOKENS,
  });
  for (let i = 0; i < c.output.length; i += pieceChars) {
    if (detector.push(c.output.slice(i, i + pieceChars))) break;
  }
  const ctx = {
    prefix: c.prefix,
    suffix: c.suffix,
    language: c.language,
    lineMode,
    specialTokens: DEEPSEEK_SPECIAL_TOKENS,
  };
  return runFilters(detector.text(), ctx, ALL_ON).text;
}

const cases: PolicyCase[] = [
  {
    name: 'python: the cursor line opens a loop: the loop body is shown, not what follows it',
    language: 'python',
    prefix: 'def depth(brackets):\n    depth = 0\n    f',
    suffix: '\n    return depth\n',
    output: "or b in brackets:\n        if b == '(':\n            depth += 1\n    print(depth)\n",
    expected: "or b in brackets:\n        if b == '(':\n            depth += 1",
  },
  {
    name: 'python: a complete statement stays one line when the model goes on with the next one',
    language: 'python',
    prefix: 'def mean(xs):\n    total = su',
    suffix: '\n    return total / len(xs)\n',
    output: 'm(xs)\n    count = len(xs)\n',
    expected: 'm(xs)',
  },
  {
    name: 'python: an answer that starts on the next line goes on at the cursor line level',
    language: 'python',
    prefix: 'def total(xs):\n    result = 0',
    suffix: '\n    return result\n',
    output: '\n    for x in xs:\n        result += x\n    return result\n',
    expected: '\n    for x in xs:\n        result += x',
  },
  {
    name: 'python: at the end of the file the answer may finish the function, not start another',
    language: 'python',
    prefix: 'def mean(xs):\n    if not xs:\n',
    suffix: '',
    output: '        return 0.0\n    return sum(xs) / len(xs)\n\n\ndef median(xs):\n    pass\n',
    expected: '        return 0.0\n    return sum(xs) / len(xs)\n',
  },
  {
    name: 'python: only a new top-level helper inside a function body is refused',
    language: 'python',
    prefix: 'def mean(xs):\n    total = sum(xs)\n',
    suffix: '\n    return total / len(xs)\n',
    output: '\n\ndef _helper(values):\n    return [v * 2 for v in values]\n',
    expected: '',
  },
  {
    name: 'typescript: a statement continued on deeper lines (method chain) is shown whole',
    language: 'typescript',
    prefix: 'export function names(users: User[]): string[] {\n  return users.filter((u) => u.act',
    suffix: '\n}\n',
    output: 'ive)\n    .map((u) => u.name);\n  console.log(users);\n}\n',
    expected: 'ive)\n    .map((u) => u.name);',
  },
  {
    name: 'javascript: an arrow function opened on the cursor line keeps its body and closer',
    language: 'javascript',
    prefix: "button.addEventListener('click', () =",
    suffix: '\n',
    output: "> {\n  count += 1;\n  render();\n});\nconsole.log('ready');\n",
    expected: '> {\n  count += 1;\n  render();\n});',
  },
  {
    name: 'go: an if opened mid-line keeps its body and its closing brace',
    language: 'go',
    prefix: 'func find(xs []int, x int) int {\n\tfor i, v := range xs {\n\t\tif v == ',
    suffix: '\n\t}\n\treturn -1\n}\n',
    output: 'x {\n\t\t\treturn i\n\t\t}\n\t}\n\treturn -1\n}\n',
    expected: 'x {\n\t\t\treturn i\n\t\t}',
  },
  {
    name: 'java: a complete statement is one line even if the model writes more',
    language: 'java',
    prefix: 'class Counter {\n  int count;\n  void add(int n) {\n    count += ',
    suffix: '\n  }\n}\n',
    output: 'n;\n    total += n;\n  }\n}\n',
    expected: 'n;',
  },
  {
    name: 'java: an else clause continues the statement of the cursor line',
    language: 'java',
    prefix: 'class Sign {\n  int of(int x) {\n    if (x < 0) { return -1; ',
    suffix: '\n    return 1;\n  }\n}\n',
    output: '}\n    else if (x == 0) { return 0; }\n    return 1;\n',
    expected: '}\n    else if (x == 0) { return 0; }',
  },
  {
    name: 'c: a for loop opened mid-line keeps its body and its closer',
    language: 'c',
    prefix: 'int sum(const int *xs, int n) {\n  int total = 0;\n  for (int i = 0; i < n; i',
    suffix: '\n  return total;\n}\n',
    output: '++) {\n    total += xs[i];\n  }\n  return total;\n}\n',
    expected: '++) {\n    total += xs[i];\n  }',
  },
  {
    name: 'c: text after the cursor (closers) keeps the answer on this line, without re-typed closers',
    language: 'c',
    prefix: 'int main(void) {\n  printf("%d\\n", sum(xs, ',
    suffix: '));\n  return 0;\n}\n',
    output: 'n));\n  return 0;\n',
    expected: 'n',
  },
  {
    name: 'python: a clause after a one-line statement brings its body, not the statement after it',
    language: 'python',
    prefix: 'def collatz(n):\n    if n % 2 == 0:\n        odd_collatz',
    suffix: '\n    while n > 1:\n        n //= 2\n',
    output: ' = []\n    else:\n        odd_collatz = [n]\n    while n > 1:\n',
    expected: ' = []\n    else:\n        odd_collatz = [n]',
  },
  {
    name: 'javascript: `} else {` after the cursor line brings its body and its closer',
    language: 'javascript',
    prefix: 'function sign(x) {\n  if (x < 0) {\n    return -',
    suffix: '\n}\n',
    output: '1;\n  } else {\n    return 1;\n  }\n  console.log(x);\n}\n',
    expected: '1;\n  } else {\n    return 1;\n  }',
  },
  {
    name: 'go: `} else {` brings its body',
    language: 'go',
    prefix: 'func abs(x int) int {\n\tif x < 0 {\n\t\tx = -',
    suffix: '\n\treturn x\n}\n',
    output: 'x\n\t} else {\n\t\tx = x + 0\n\t}\n\treturn x\n}\n',
    expected: 'x\n\t} else {\n\t\tx = x + 0\n\t}',
  },
  {
    name: 'java: `} catch (…) {` brings its body',
    language: 'java',
    prefix: 'class Reader {\n  String read(Path p) {\n    try {\n      return Files.readString(',
    suffix: '\n    return "";\n  }\n}\n',
    output: 'p);\n    } catch (IOException e) {\n      log(e);\n    }\n    return "";\n',
    expected: 'p);\n    } catch (IOException e) {\n      log(e);\n    }',
  },
  {
    name: 'python: closers after the cursor and a complete first line: the answer ends where they fit',
    language: 'python',
    prefix: 'def mad(numbers):\n    mean ',
    suffix: ')\n',
    output:
      '= sum(numbers) / len(numbers)\n    return sum(abs(x - mean) for x in numbers) / len(numbers)\n\ndef other():\n',
    expected: '= sum(numbers) / len(numbers)\n    return sum(abs(x - mean) for x in numbers) / len(numbers',
  },
  {
    name: 'python: a hanging indent inside the call the `)` closes is kept up to the statement after it',
    language: 'python',
    prefix: 'def doubled_sum(xs):\n    total = sum(',
    suffix: ')\n    return total\n',
    output: '\n        x * 2\n        for x in xs\n    )\n    return total\n',
    expected: '\n        x * 2\n        for x in xs',
  },
  {
    name: 'python: a dict literal over several lines before `}`, then the `}` and the code after it re-typed',
    language: 'python',
    prefix: 'def defaults():\n    config = {',
    suffix: '}\n    return config\n',
    output: "\n        'retries': 3,\n        'timeout': 10,\n    }\n    return config\n",
    expected: "\n        'retries': 3,\n        'timeout': 10,",
  },
  {
    name: 'typescript: call arguments one per line before `);`, then the next statement',
    language: 'typescript',
    prefix: 'export function area(w: number, h: number): number {\n  return multiply(',
    suffix: ');\n}\n',
    output: '\n    w,\n    h,\n  );\n}\n',
    expected: '\n    w,\n    h,',
  },
  {
    name: 'c: a loop header completed before `);`: its body line takes them',
    language: 'c',
    prefix: 'void dump(const int *xs, int n) {\n  for (int i = 0; i < n; i++) {',
    suffix: ');\n  }\n}\n',
    output: '\n    printf("%d\\n", xs[i]);\n  }\n}\n',
    expected: '\n    printf("%d\\n", xs[i]',
  },
];

describe('cursor-line policy (line mode, stop detector and filters together)', () => {
  it.each(cases)('$name', (c) => {
    expect(answer(c, 3)).toBe(c.expected);
    expect(answer(c, 1)).toBe(c.expected);
    expect(answer(c, c.output.length || 1)).toBe(c.expected);
  });
});
