import { describe, expect, it } from 'vitest';
import { documentLineBreak, formatSnippet, lineCommentFor } from './snippets.js';

describe('formatSnippet', () => {
  it.each([
    ['python', '# path: a.py\n# x = 1\n#\n# y = 2\n'],
    ['typescript', '// path: a.py\n// x = 1\n//\n// y = 2\n'],
    ['sql', '-- path: a.py\n-- x = 1\n--\n-- y = 2\n'],
    ['html', '<!-- path: a.py -->\n<!-- x = 1 -->\n<!-- -->\n<!-- y = 2 -->\n'],
    ['css', '/* path: a.py */\n/* x = 1 */\n/* */\n/* y = 2 */\n'],
    ['no-such-language', '// path: a.py\n// x = 1\n//\n// y = 2\n'],
  ])('comments every line in %s', (language, expected) => {
    expect(formatSnippet({ path: 'a.py', content: 'x = 1\n\ny = 2\n', distance: 0 }, language, '\n')).toBe(
      expected,
    );
  });

  it('omits the path line without a path and uses the given line break', () => {
    expect(formatSnippet({ content: 'a\r\nb', distance: 0 }, 'go', '\r\n')).toBe('// a\r\n// b\r\n');
  });

  it('matches language ids case-insensitively', () => {
    expect(lineCommentFor('Python')).toEqual({ start: '#' });
  });
});

describe('documentLineBreak', () => {
  it.each([
    ['a\r\nb', '', '\r\n'],
    ['a\nb', 'c\r\n', '\n'],
    ['abc', 'x\r\ny', '\r\n'],
    ['', '', '\n'],
  ])('prefix %j, suffix %j → %j', (prefix, suffix, expected) => {
    expect(documentLineBreak(prefix, suffix)).toBe(expected);
  });
});
