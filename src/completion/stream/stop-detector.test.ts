import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LineMode } from '../types.js';
import { StopDetector, type StopDetectorOptions } from './stop-detector.js';

const SPECIAL = ['<｜end▁of▁sentence｜>', '<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>', '<|EOT|>'];

function options(
  prefix: string,
  suffix: string,
  lineMode: LineMode,
  stop: string[] = [],
): StopDetectorOptions {
  return { prefix, suffix, lineMode, stop, specialTokens: SPECIAL };
}

function feed(opts: StopDetectorOptions, pieces: string[]): StopDetector {
  const detector = new StopDetector(opts);
  for (const piece of pieces) if (detector.push(piece)) break;
  return detector;
}

describe('StopDetector', () => {
  it('stops at a stop string split across pieces and cuts before it', () => {
    const d = feed(options('x = ', '\n', 'single', ['\n\n', 'STOP']), ['compute(', 'a) ST', 'OP more']);
    expect(d.text()).toBe('compute(a) ');
    expect(d.reason).toBe('stop');
  });

  it('reports a special token split across pieces', () => {
    const d = feed(options('def f():\n', '', 'multi'), ['    return 1<｜end', '▁of▁sentence｜>junk']);
    expect(d.text()).toBe('    return 1');
    expect(d.reason).toBe('special-token');
  });

  it('holds back only a possible partial match from committed()', () => {
    const d = new StopDetector(options('x = ', '\n', 'single'));
    expect(d.push('value <｜end▁')).toBe(false);
    expect(d.committed()).toBe('value ');
    expect(d.push('not a token')).toBe(false);
    expect(d.committed()).toBe('value <｜end▁not a token');
  });

  it('single-line: ends at the first line break after text, before a CR', () => {
    const d = feed(options('x = ', '\n', 'single'), ['foo(1)\r', '\nbar()']);
    expect(d.text()).toBe('foo(1)');
    expect(d.reason).toBe('newline');
  });

  it('single-line: a leading line break on a non-blank cursor line ends the answer', () => {
    const d = feed(options('x = ', '\n', 'single'), ['\n', 'y = 2']);
    expect(d.text()).toBe('');
    expect(d.reason).toBe('newline');
  });

  it('single-line: on a blank cursor line leading line breaks are skipped', () => {
    const d = feed(options('def f():\n', '', 'single'), ['\n    return 1\n', 'x']);
    expect(d.text()).toBe('\n    return 1');
  });

  it('multi-line: stops before a line that leaves the block', () => {
    const d = feed(options('def f(xs):\n', '', 'multi'), [
      '    total = sum(xs)\n    return total\n\n',
      'def g():\n    pass\n',
    ]);
    expect(d.text()).toBe('    total = sum(xs)\n    return total\n\n');
    expect(d.reason).toBe('block-end');
  });

  it('multi-line: else/except lines continue the block; at the end of the file the function may be finished', () => {
    const text = '        a = 1\n    else:\n        a = 2\n    return a\nprint(f(1))\n';
    const d = feed(options('def f(x):\n    if x:\n', '', 'multi'), [text]);
    expect(d.text()).toBe('        a = 1\n    else:\n        a = 2\n    return a\n');
  });

  it('multi-line: keeps the closing line for the filters to judge', () => {
    const d = feed(options('function f() {\n', '', 'multi'), ['  return 1;\n}\n', '\nfunction g() {}\n']);
    expect(d.text()).toBe('  return 1;\n}');
    expect(d.reason).toBe('block-end');
  });

  it('multi-line: mid-line cursor on a block opener keeps only the body', () => {
    const d = feed(options('if ready', '\n', 'multi'), [':\n    go()\nstop()\n']);
    expect(d.text()).toBe(':\n    go()\n');
  });

  it('multi-line before closers: a statement the cursor line left open goes on while its lines are deeper', () => {
    const d = feed(options('def f(xs):\n    total = sum(', ')\n    return total\n', 'multi'), [
      '\n        x * 2\n',
      '        for x in xs\n    ',
    ]);
    expect(d.decided).toBe(false);
    expect(d.text()).toBe('\n        x * 2\n        for x in xs\n    ');
  });

  it('multi-line before closers: the open statement ends at the first character of a line at its level', () => {
    const d = new StopDetector(options('def f(xs):\n    total = sum(', ')\n    return total\n', 'multi'));
    expect(d.push('\n        x * 2\n        for x in xs\n    ')).toBe(false);
    // Decided by the `p`, before the rest of its line arrives (it may never end).
    expect(d.push('p')).toBe(true);
    expect(d.text()).toBe('\n        x * 2\n        for x in xs');
    expect(d.reason).toBe('closers');
  });

  it('multi-line before closers: a line that never ends does not hold the stream open once it leaves the statement', () => {
    const d = new StopDetector(options('print(foo(', '))\n', 'multi'));
    expect(d.push('x)\n')).toBe(false);
    expect(d.push('junk junk')).toBe(true);
    expect(d.text()).toBe('x)');
    expect(d.reason).toBe('closers');
  });

  it('is undecided while nothing has ended, and text() is everything', () => {
    const d = feed(options('def f():\n', '', 'multi'), ['    x = 1\n    y', ' = 2']);
    expect(d.reason).toBeUndefined();
    expect(d.text()).toBe('    x = 1\n    y = 2');
    expect(d.committed()).toBe('    x = 1\n');
  });
});

/** Realistic pieces of model output, plus the things the detector must notice inside them. */
const FRAGMENTS = [
  '    return total\n',
  '        if x > 0:\n',
  '    else:\n',
  '}\n',
  '  } else {\n',
  'def helper(values):\n',
  '\n',
  '\r\n',
  '  ',
  'print("héllo 😀 世界")',
  '😀',
  '𝔘',
  'STOP',
  'ST',
  '<｜end▁of▁sentence｜>',
  '<｜fim',
  '<|EOT|>',
  '\n\n',
  'foo(bar(1, 2))',
  ')',
  'x = [1, 2,\n',
  '        x * 2\n',
  '    a,\n',
  '    )\n',
];

const outputArb = fc.oneof(
  fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 12 }).map((parts) => parts.join('')),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc
    .tuple(
      fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 6 }),
      fc.string({ unit: 'binary', maxLength: 20 }),
    )
    .map(([parts, noise]) => parts.join('') + noise),
);

const contextArb = fc.record({
  prefix: fc.constantFrom(
    '',
    'x = ',
    'def f(xs):\n',
    'def f(x):\n    if x:\n',
    'function f() {\n  ',
    'if ready',
    'a\r\n',
    'def f(xs):\n    total = sum(',
    'function f() {\n  return foo(',
  ),
  suffix: fc.constantFrom('', '\n', ')\n', '\n    return x\n', '}\n', ')\n    return total\n', ');\n}\n'),
  lineMode: fc.constantFrom<LineMode>('single', 'multi'),
  stop: fc.constantFrom<string[]>([], ['STOP'], ['\n\n'], ['\n\n', 'STOP', 'def ']),
});

/** Cut points anywhere, including between the two halves of a surrogate pair. */
function split(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const pieces: string[] = [];
  let from = 0;
  for (const point of points) {
    pieces.push(text.slice(from, point));
    from = point;
  }
  pieces.push(text.slice(from));
  return pieces;
}

describe('StopDetector chunking', () => {
  it('decides the same whatever the chunking', () => {
    fc.assert(
      fc.property(contextArb, outputArb, fc.array(fc.nat(), { maxLength: 20 }), (ctx, output, cuts) => {
        const opts = { ...ctx, specialTokens: SPECIAL };
        const whole = feed(opts, [output]);
        const chunked = feed(opts, split(output, cuts));
        const perCodeUnit = feed(
          opts,
          [...Array(output.length).keys()].map((i) => output[i]!),
        );
        expect(chunked.text()).toBe(whole.text());
        expect(chunked.reason).toBe(whole.reason);
        expect(perCodeUnit.text()).toBe(whole.text());
        expect(perCodeUnit.reason).toBe(whole.reason);
      }),
      { numRuns: 500 },
    );
  });

  it('never lets a stop string or special token through, and committed() is a prefix of text()', () => {
    fc.assert(
      fc.property(contextArb, outputArb, fc.array(fc.nat(), { maxLength: 20 }), (ctx, output, cuts) => {
        const opts = { ...ctx, specialTokens: SPECIAL };
        const detector = new StopDetector(opts);
        for (const piece of split(output, cuts)) {
          const done = detector.push(piece);
          expect(detector.text().startsWith(detector.committed())).toBe(true);
          if (done) break;
        }
        for (const marker of [...SPECIAL, ...ctx.stop]) expect(detector.text()).not.toContain(marker);
        if (ctx.lineMode === 'single' && detector.decided) expect(detector.text()).not.toMatch(/\S[^\n]*\n/);
      }),
      { numRuns: 300 },
    );
  });
});
